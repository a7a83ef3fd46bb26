# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CNI protocol, independent of what the plugin does: the request a runtime makes
(environment and network configuration on stdin), version negotiation, the spec's error
object with its codes, and the result in the format of each supported spec version.

The plugin (:mod:`.plugin`) gives :func:`dispatch` one function per verb.
"""

from __future__ import absolute_import, division, print_function

import ipaddress
import json
import re

SUPPORTED_VERSIONS = ('0.4.0', '1.0.0', '1.1.0')
LATEST_VERSION = SUPPORTED_VERSIONS[-1]

# Error codes of the CNI specification ("Error" in SPEC.md); 1-99 are reserved by the spec.
INCOMPATIBLE_VERSION = 1
UNSUPPORTED_FIELD = 2
UNKNOWN_CONTAINER = 3
INVALID_ENVIRONMENT = 4
IO_FAILURE = 5
DECODING_FAILURE = 6
INVALID_CONFIG = 7
TRY_AGAIN_LATER = 11
NOT_AVAILABLE = 50
PLUGIN_ERROR = 999          # this plugin's own failures

VERBS = ('ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC')
# The verbs that act on one container's attachment, and the variables they need.
_CONTAINER_VERBS = {'ADD': ('CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'),
                    'DEL': ('CNI_CONTAINERID', 'CNI_IFNAME'),
                    'CHECK': ('CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME')}
_CONTAINER_ID = re.compile(r'^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$')


class CniError(Exception):
    """A failure reported to the runtime as the spec's error object."""

    def __init__(self, code, msg, details=''):
        super(CniError, self).__init__(msg)
        self.code = code
        self.msg = msg
        self.details = details

    def encode(self, version):
        return {'cniVersion': version or LATEST_VERSION, 'code': self.code, 'msg': self.msg,
                'details': self.details}


class Request(object):
    """One invocation: the verb, the runtime's variables and the network configuration."""

    def __init__(self, command, config, version, container_id=None, netns=None, ifname=None,
                 args=None, path=None):
        self.command = command
        self.config = config
        self.version = version
        self.container_id = container_id
        self.netns = netns
        self.ifname = ifname
        self.args = args or {}
        self.path = path

    @property
    def pod(self):
        """(namespace, name) from CNI_ARGS, or (None, None) when the runtime gave none."""
        return self.args.get('K8S_POD_NAMESPACE'), self.args.get('K8S_POD_NAME')


def parse_cni_args(text):
    """CNI_ARGS ``K1=V1;K2=V2`` as a dict; a pair without ``=`` is refused."""
    out = {}
    for pair in (text or '').split(';'):
        if not pair:
            continue
        key, sep, value = pair.partition('=')
        if not sep or not key:
            raise CniError(INVALID_ENVIRONMENT, 'CNI_ARGS holds %r, which is not KEY=VALUE' % pair)
        out[key] = value
    return out


def check_ifname(name):
    """The interface name rules of the spec (and of Linux)."""
    if (not name or len(name.encode('utf-8')) > 15 or name in ('.', '..')
            or any(c in name for c in '/:') or any(c.isspace() for c in name)):
        raise CniError(INVALID_ENVIRONMENT, 'CNI_IFNAME %r is not a valid interface name (1 to 15 '
                       'bytes, no slash, colon or blank, not . or ..)' % (name,))
    return name


def parse_request(environ, stdin):
    """The Request of this invocation, or CniError with the code the spec gives the fault."""
    command = environ.get('CNI_COMMAND', '')
    if command not in VERBS:
        raise CniError(INVALID_ENVIRONMENT, 'CNI_COMMAND is %r; expected one of %s'
                       % (command, ', '.join(VERBS)))
    text = stdin.decode('utf-8', 'replace') if isinstance(stdin, bytes) else (stdin or '')
    if command == 'VERSION' and not text.strip():
        return Request(command, {}, None)
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise CniError(DECODING_FAILURE, 'the network configuration on stdin is not JSON: %s' % exc)
    if not isinstance(config, dict):
        raise CniError(DECODING_FAILURE, 'the network configuration on stdin is not a JSON object')
    version = config.get('cniVersion')
    if command == 'VERSION':
        return Request(command, config, version if version in SUPPORTED_VERSIONS else None)
    if version not in SUPPORTED_VERSIONS:
        error = CniError(INCOMPATIBLE_VERSION, 'network %s asks for cniVersion %r; this plugin supports %s'
                         % (config.get('name', '(unnamed)'), version, ', '.join(SUPPORTED_VERSIONS)),
                         details=json.dumps({'supportedVersions': list(SUPPORTED_VERSIONS)}))
        # Answered in the version the runtime asked for (a string), as every answer is.
        error.version = version if isinstance(version, str) and version else None
        raise error
    request = Request(command, config, version, path=environ.get('CNI_PATH'))
    needed = _CONTAINER_VERBS.get(command, ())
    missing = [name for name in needed if not environ.get(name)]
    if missing:
        raise CniError(INVALID_ENVIRONMENT, '%s needs the environment variable%s %s'
                       % (command, 's' if len(missing) > 1 else '', ', '.join(missing)))
    if needed:
        request.container_id = environ['CNI_CONTAINERID']
        if not _CONTAINER_ID.match(request.container_id):
            raise CniError(INVALID_ENVIRONMENT, 'CNI_CONTAINERID %r is not a valid container ID'
                           % request.container_id)
        request.ifname = check_ifname(environ['CNI_IFNAME'])
        request.netns = environ.get('CNI_NETNS') or None
        request.args = parse_cni_args(environ.get('CNI_ARGS'))
    return request


def version_info(request):
    """The VERSION answer: the version asked for (when supported) and every supported one."""
    return {'cniVersion': request.version or LATEST_VERSION,
            'supportedVersions': list(SUPPORTED_VERSIONS)}


# Results ----------------------------------------------------------------------------------
class Result(object):
    """An ADD result: interfaces (dicts with name, mac and, inside the container, sandbox),
    IP configurations (address with prefix, gateway, index into interfaces) and routes."""

    def __init__(self, interfaces, ips, routes, dns=None):
        self.interfaces = interfaces
        self.ips = ips
        self.routes = routes
        self.dns = dns or {}

    def encode(self, version):
        """The result in the format of spec ``version`` (0.4.0 has ``version`` in each IP)."""
        interfaces = []
        for iface in self.interfaces:
            item = dict((k, v) for k, v in iface.items() if v is not None and k != 'mtu')
            if version == '1.1.0' and iface.get('mtu'):
                item['mtu'] = iface['mtu']      # 1.1.0 added the interface MTU
            interfaces.append(item)
        ips = []
        for ip in self.ips:
            item = dict((k, v) for k, v in ip.items() if v is not None)
            if version == '0.4.0':
                item['version'] = str(ipaddress.ip_interface(ip['address']).version)
            ips.append(item)
        return {'cniVersion': version, 'interfaces': interfaces, 'ips': ips,
                'routes': [dict(r) for r in self.routes], 'dns': dict(self.dns)}

    @classmethod
    def decode(cls, data):
        """A prevResult of any supported version."""
        if not isinstance(data, dict):
            raise CniError(DECODING_FAILURE, 'prevResult is not a JSON object')
        try:
            interfaces = [dict(i) for i in data.get('interfaces') or []]
            ips = []
            for ip in data.get('ips') or []:
                ipaddress.ip_interface(ip['address'])
                ips.append(dict((k, v) for k, v in ip.items() if k != 'version'))
            routes = [dict(r) for r in data.get('routes') or []]
            for route in routes:
                ipaddress.ip_network(route['dst'])
        except (KeyError, TypeError, ValueError) as exc:
            raise CniError(DECODING_FAILURE, 'prevResult is malformed: %s' % exc)
        return cls(interfaces, ips, routes, data.get('dns'))


def prev_result_of(request):
    """CHECK's prevResult and the index of the container's interface (``request.ifname``, in a
    sandbox) in it, or the CNI error that says which is missing."""
    if 'prevResult' not in request.config:
        raise CniError(INVALID_CONFIG, 'CHECK of container %s: the configuration has no prevResult'
                       % request.container_id)
    prev = Result.decode(request.config['prevResult'])
    inside = [i for i, iface in enumerate(prev.interfaces)
              if iface.get('sandbox') and iface.get('name') == request.ifname]
    if not inside:
        raise CniError(INVALID_CONFIG, 'CHECK of container %s: prevResult has no interface %s in a sandbox'
                       % (request.container_id, request.ifname))
    return prev, inside[0]


def dispatch(handlers, environ, stdin):
    """Run the verb's handler; returns (exit status, text for stdout).

    ``handlers`` maps a verb to a function taking the Request and returning a Result, a dict
    (printed as JSON) or None (nothing printed). CniError becomes the spec's error object.
    """
    version = None
    try:
        request = parse_request(environ, stdin)
        version = request.version
        if request.command == 'VERSION':
            return 0, json.dumps(version_info(request))
        outcome = handlers[request.command](request)
    except CniError as exc:
        return 1, json.dumps(exc.encode(version or getattr(exc, 'version', None)))
    if outcome is None:
        return 0, ''
    if isinstance(outcome, Result):
        outcome = outcome.encode(version)
    return 0, json.dumps(outcome)
