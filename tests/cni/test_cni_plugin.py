# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CNI plugin ovn-k8s-cni-overlay driven through cnitool (libcni), against real network
namespaces, a real userspace ovs-vswitchd and the real kube-apiserver (fixtures in conftest.py).
Every test runs under the virtualenv's Python and under Debian's /usr/bin/python3."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os
import subprocess
import sys
import time

import pytest

from cni_node import PLUGIN, SYSTEM_PYTHON, cnitool, collection_root, failed, ip_json, ok, pod_network, pod_side

TCP = r'''
import socket, sys
mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == 'serve':
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1)
    s.settimeout(20)
    print('ready', flush=True)
    c, peer = s.accept()
    c.sendall(c.recv(100).upper() + (' from %s' % peer[0]).encode())
    c.close()
else:
    c = socket.socket()
    c.settimeout(8)
    c.connect((addr, port))
    c.sendall(b'hello')
    print(c.recv(100).decode())
'''


def tcp_answer(server, client, addr, port):
    """What a TCP server in pod ``server`` on ``addr`` answers a client in pod ``client``."""
    proc = subprocess.Popen(['ip', 'netns', 'exec', server.netns, sys.executable, '-c', TCP, 'serve', addr, str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    try:
        assert proc.stdout.readline().strip() == 'ready', proc.stderr.read()
        out = client.exec(sys.executable, '-c', TCP, 'connect', addr, str(port), timeout=30)
        return out.stdout.strip()
    finally:
        proc.kill()
        proc.wait()


def tx_checksumming(pod, ifname='eth0'):
    out = pod.exec('ethtool', '-k', ifname).stdout
    return [line.split(':', 1)[1].strip() for line in out.splitlines() if line.startswith('tx-checksumming:')][0]


def external_ids(node, port):
    raw = node.vsctl('--format=json', '--columns=external_ids', 'list', 'Interface', port)
    return dict(json.loads(raw)['data'][0][0][1])


def credentials(kubeconfig):
    """The secrets in a kubeconfig, as they appear in the file and decoded."""
    with open(kubeconfig) as f:
        config = json.load(f)
    found = []
    for user in config.get('users', []):
        for key in ('client-key-data', 'token', 'client-certificate-data'):
            value = user['user'].get(key)
            if value:
                found.append(value)
                if key.endswith('-data'):
                    found.append(base64.b64decode(value).decode().splitlines()[1])
    assert found, 'the test kubeconfig should carry a credential'
    return found


def test_add_check_del(node, k8s_namespace):
    pod = node.pod(k8s_namespace, 'web', pod_network('10.128.1.5/24', '0a:58:0a:80:01:05', '10.128.1.1'))
    result = ok(pod.cni('add'))

    host = result['interfaces'][0]['name']
    assert host.startswith('veth') and len(host) <= 15
    assert result.pop('dns', {}) == {}  # libcni re-encodes the result and leaves an empty dns out
    assert result == {
        'cniVersion': '1.0.0',
        'interfaces': [{'name': host, 'mac': result['interfaces'][0]['mac']},
                       {'name': 'eth0', 'mac': '0a:58:0a:80:01:05', 'sandbox': pod.netns_path}],
        'ips': [{'address': '10.128.1.5/24', 'gateway': '10.128.1.1', 'interface': 1}],
        'routes': [{'dst': '0.0.0.0/0', 'gw': '10.128.1.1'}]}

    # The pod's side: MAC, address, MTU, up, default route, no transmit checksum offload.
    eth0 = pod_side(pod)
    assert eth0['address'] == '0a:58:0a:80:01:05' and eth0['mtu'] == 1400 and 'UP' in eth0['flags']
    assert ['%s/%s' % (a['local'], a['prefixlen']) for a in eth0['addr_info'] if a['family'] == 'inet'] == ['10.128.1.5/24']
    assert [(r['gateway'], r['dev']) for r in ip_json(pod.netns, 'route', 'show', 'default')] == [('10.128.1.1', 'eth0')]
    assert tx_checksumming(pod) == 'off'
    # The node's side: the host end is up on br-int with the pod's identity.
    assert node.veths() == [host] and 'UP' in node.link(host)['flags'] and node.link(host)['mtu'] == 1400
    assert node.ports() == [host]
    ids = external_ids(node, host)
    assert ids.pop('sandbox').startswith('cnitool-')  # cnitool's container ID: a hash of the netns path
    assert ids.pop('ovn-installed-ts')  # ovn-controller's, with ovn-installed: it bound the port here
    assert ids == {'iface-id': '%s_web' % k8s_namespace, 'attached_mac': '0a:58:0a:80:01:05', 'ip_address': '10.128.1.5/24',
                   'cni_ifname': 'eth0', 'owner': 'ovn-k8s-cni-overlay', 'k8s_pod_uid': pod.uid, 'iface-id-ver': pod.uid,
                   'ovn-installed': 'true'}

    # CHECK passes; then someone changes the address (and the MTU) and it fails, saying what.
    ok(pod.cni('check'))
    pod.exec('ip', 'addr', 'del', '10.128.1.5/24', 'dev', 'eth0')
    pod.exec('ip', 'addr', 'add', '10.128.1.99/24', 'dev', 'eth0')
    err = failed(pod.cni('check'))
    assert 'CHECK of pod %s/web failed' % k8s_namespace in err and 'eth0 lacks the address 10.128.1.5/24 (it has 10.128.1.99/24)' in err
    assert 'lacks the route to 0.0.0.0/0 via 10.128.1.1' in err  # the kernel dropped it with the address
    pod.exec('ip', 'addr', 'flush', 'dev', 'eth0')
    pod.exec('ip', 'addr', 'add', '10.128.1.5/24', 'dev', 'eth0')
    pod.exec('ip', 'link', 'set', 'eth0', 'mtu', '1500')
    err = failed(pod.cni('check'))
    assert 'eth0 has MTU 1500, not 1400' in err and 'lacks the route to 0.0.0.0/0 via 10.128.1.1' in err
    pod.exec('ip', 'link', 'set', 'eth0', 'mtu', '1400')
    pod.exec('ip', 'route', 'add', 'default', 'via', '10.128.1.1')
    ok(pod.cni('check'))

    # DEL removes the port and both ends; DEL again is a success with nothing to do.
    ok(pod.cni('del'))
    assert node.veths() == [] and node.ports() == [] and pod_side(pod) is None
    ok(pod.cni('del'))

    # The log says what happened and holds no credential of the kubeconfig.
    log = node.log()
    assert 'ADD pod %s/web' % k8s_namespace in log and 'DEL container' in log
    for secret in credentials(node.kube.kubeconfig):
        assert secret not in log


def test_two_pods_exchange_icmp_and_tcp_through_br_int(node, k8s_namespace):
    a = node.pod(k8s_namespace, 'a', pod_network('10.128.1.10/24', '0a:58:0a:80:01:0a', '10.128.1.1'))
    b = node.pod(k8s_namespace, 'b', pod_network('10.128.1.11/24', '0a:58:0a:80:01:0b', '10.128.1.1'))
    ok(a.cni('add'))
    ok(b.cni('add'))
    assert len(node.ports()) == 2
    ping = a.exec('ping', '-n', '-c', '3', '-i', '0.2', '-W', '3', '10.128.1.11')
    assert ' 3 received' in ping.stdout, ping.stdout
    # TCP needs transmit checksum offload off on the pods' side of the userspace datapath.
    assert tcp_answer(b, a, '10.128.1.11', 18090) == 'HELLO from 10.128.1.10'
    assert tcp_answer(a, b, '10.128.1.10', 18091) == 'HELLO from 10.128.1.11'
    ok(a.cni('del'))
    assert len(node.ports()) == 1
    ping = b.exec('ping', '-n', '-c', '1', '-W', '1', '10.128.1.10')
    assert ' 0 received' in ping.stdout
    ok(b.cni('del'))
    assert node.ports() == [] and node.veths() == []


def test_offload_left_on_breaks_tcp_on_the_userspace_datapath(node, k8s_namespace):
    """Why ADD turns transmit checksum offload off: left on (tx_checksum_offload: true), ICMP
    still passes through the netdev bridge but TCP does not (shared/LAB.md)."""
    node.write_conflist(tx_checksum_offload=True)
    a = node.pod(k8s_namespace, 'on-a', pod_network('10.128.1.12/24', '0a:58:0a:80:01:0c', '10.128.1.1'))
    b = node.pod(k8s_namespace, 'on-b', pod_network('10.128.1.13/24', '0a:58:0a:80:01:0d', '10.128.1.1'))
    ok(a.cni('add'))
    ok(b.cni('add'))
    assert tx_checksumming(a) == 'on'
    assert ' 1 received' in a.exec('ping', '-n', '-c', '1', '-W', '3', '10.128.1.13').stdout
    answer = tcp_answer(b, a, '10.128.1.13', 18092)
    assert 'HELLO' not in answer and 'timed out' in answer, answer
    ok(a.cni('del'))
    ok(b.cni('del'))


def test_missing_annotation_fails_naming_the_pod_and_leaves_nothing(node, k8s_namespace):
    node.write_conflist(annotation_timeout=2)
    pod = node.pod(k8s_namespace, 'lonely', pod_network('10.128.1.20/24', '0a:58:0a:80:01:14', '10.128.1.1'),
                   annotate=False)
    err = failed(pod.cni('add', timeout=30))  # gives up after its own 2 s; at 30 it would have hung
    assert 'pod %s/lonely has no network annotation (ovn) after 2 seconds' % k8s_namespace in err, err
    assert node.veths() == [] and node.ports() == [] and pod_side(pod) is None
    # The spec's code for it: try again later.
    direct = node.plugin('ADD', dict(node.plugin_config(annotation_timeout=1), cniVersion='1.0.0', name='ovn-k8s'),
                         CNI_CONTAINERID='c1', CNI_NETNS=pod.netns_path, CNI_IFNAME='eth0',
                         CNI_ARGS='K8S_POD_NAMESPACE=%s;K8S_POD_NAME=lonely' % k8s_namespace)
    assert direct.returncode == 1 and json.loads(direct.stdout)['code'] == 11, direct.stdout
    # A missing annotation that the watcher writes while ADD waits is picked up.
    node.write_conflist(annotation_timeout=20)
    waiting = _background(pod, 'add')
    time.sleep(1.5)
    assert waiting.poll() is None, 'ADD should still wait for the annotation'
    node.annotate(pod)
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert json.loads(out)['ips'][0]['address'] == '10.128.1.20/24'
    ok(pod.cni('del'))


def _background(pod, verb):
    node = pod.node
    env = dict(os.environ, CNI_PATH=node.cni_path, NETCONFPATH=node.netconf, CNI_IFNAME='eth0',
               CNI_ARGS='K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s' % (pod.namespace, pod.name))
    return subprocess.Popen(['ip', 'netns', 'exec', node.netns, cnitool(), verb, 'ovn-k8s', pod.netns_path],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env)


@pytest.mark.parametrize('version', ['0.4.0', '1.1.0'])
def test_results_of_other_spec_versions(node, k8s_namespace, version):
    node.write_conflist(version=version)
    pod = node.pod(k8s_namespace, 'v' + version.replace('.', ''), pod_network('10.128.1.30/24', '0a:58:0a:80:01:1e', '10.128.1.1'))
    result = ok(pod.cni('add'))
    assert result['cniVersion'] == version
    if version == '0.4.0':
        assert result['ips'] == [{'version': '4', 'address': '10.128.1.30/24', 'gateway': '10.128.1.1', 'interface': 1}]
    else:
        assert [i.get('mtu') for i in result['interfaces']] == [1400, 1400]
        assert result['ips'] == [{'address': '10.128.1.30/24', 'gateway': '10.128.1.1', 'interface': 1}]
        ok(pod.cni('status'))
    ok(pod.cni('check'))
    if version == '1.1.0':
        # cnitool's GC names no valid attachment: libcni DELs every cached one, then the plugin's GC.
        ok(pod.cni('gc'))
    else:
        ok(pod.cni('del'))
    assert node.ports() == [] and node.veths() == [] and pod_side(pod) is None


def test_gc_removes_what_the_runtime_no_longer_has(node, k8s_namespace):
    keep = node.pod(k8s_namespace, 'keep', pod_network('10.128.1.70/24', '0a:58:0a:80:01:46', '10.128.1.1'))
    drop = node.pod(k8s_namespace, 'drop', pod_network('10.128.1.71/24', '0a:58:0a:80:01:47', '10.128.1.1'))
    kept = ok(keep.cni('add'))['interfaces'][0]['name']
    ok(drop.cni('add'))
    node.vsctl('add-port', 'br-int', 'other0', '--', 'set', 'Interface', 'other0', 'type=internal')
    config = dict(node.plugin_config(), cniVersion='1.1.0', name='ovn-k8s',
                  **{'cni.dev/valid-attachments': [{'containerID': external_ids(node, kept)['sandbox'], 'ifname': 'eth0'}]})
    ok(node.plugin('GC', config))
    # Only the plugin's own ports of attachments the runtime no longer has go.
    assert node.ports() == sorted([kept, 'other0']) and node.veths() == [kept]
    assert pod_side(drop) is None and pod_side(keep) is not None
    ok(keep.cni('del'))
    ok(drop.cni('del'))


def test_wrong_cni_version_is_refused_with_code_1(node, k8s_namespace):
    pod = node.pod(k8s_namespace, 'old', pod_network('10.128.1.40/24', '0a:58:0a:80:01:28', '10.128.1.1'))
    node.write_conflist(version='0.3.1')
    err = failed(pod.cni('add'))
    assert "asks for cniVersion '0.3.1'; this plugin supports 0.4.0, 1.0.0, 1.1.0" in err, err
    assert node.veths() == [] and node.ports() == []
    direct = node.plugin('ADD', {'cniVersion': '2.0.0', 'name': 'ovn-k8s', 'type': 'ovn-k8s-cni-overlay'},
                         CNI_CONTAINERID='c1', CNI_NETNS=pod.netns_path, CNI_IFNAME='eth0')
    # The error object is in the version asked for (case 11 of issue 23), like every answer.
    assert direct.returncode == 1 and json.loads(direct.stdout) == {
        'cniVersion': '2.0.0', 'code': 1,
        'msg': "network ovn-k8s asks for cniVersion '2.0.0'; this plugin supports 0.4.0, 1.0.0, 1.1.0",
        'details': '{"supportedVersions": ["0.4.0", "1.0.0", "1.1.0"]}'}


def test_del_succeeds_when_the_netns_and_the_api_server_are_gone(node, k8s_namespace):
    pod = node.pod(k8s_namespace, 'gone', pod_network('10.128.1.50/24', '0a:58:0a:80:01:32', '10.128.1.1'))
    ok(pod.cni('add'))
    assert len(node.ports()) == 1
    # The API server unreachable (a kubeconfig pointing nowhere) and the netns deleted first.
    node.write_conflist(kubeconfig=unreachable_kubeconfig(node))
    subprocess.check_call(['ip', 'netns', 'del', pod.netns])
    ok(pod.cni('del'))
    assert node.ports() == [] and node.veths() == []
    ok(pod.cni('del'))


def test_del_when_the_ovs_database_is_down_removes_the_veth_and_succeeds(node, k8s_namespace):
    """Case 10 of issue 23: the Open vSwitch database unreachable (a remote where nothing
    listens), DEL removes what it can, the veth by its name, and succeeds, so a pod does not
    hang in Terminating; the port left in the database goes with GC once it answers."""
    pod = node.pod(k8s_namespace, 'ovsdown', pod_network('10.128.1.51/24', '0a:58:0a:80:01:33', '10.128.1.1'))
    ok(pod.cni('add'))
    assert len(node.veths()) == 1 and len(node.ports()) == 1
    node.write_conflist(ovs_remote='unix:%s' % os.path.join(node.tmp, 'nothing-listens.sock'), ovs_timeout=2)
    ok(pod.cni('del'))
    assert node.veths() == []
    assert 'cannot be reached' in node.log()
    assert len(node.ports()) == 1  # the database was down: the port waits for GC
    node.write_conflist()
    config = dict(node.plugin_config(), cniVersion='1.1.0', name='ovn-k8s', **{'cni.dev/valid-attachments': []})
    ok(node.plugin('GC', config))
    assert node.ports() == []


def test_status_checks_ovn_controller_and_the_api_server(node, k8s_namespace):
    """Case 11 of issue 23: STATUS (CNI 1.1.0) answers ready only when what ADD needs is there:
    besides the Open vSwitch database and its bridge, a running ovn-controller and an API server
    that answers."""
    pod = node.pod(k8s_namespace, 'status', pod_network('10.128.1.52/24', '0a:58:0a:80:01:34', '10.128.1.1'))
    base = dict(node.plugin_config(), cniVersion='1.1.0', name='ovn-k8s')
    ok(node.plugin('STATUS', base))
    stale = os.path.join(node.tmp, 'gone.pid')
    with open(stale, 'w') as f:
        f.write('%d\n' % (2 ** 22 + 1))  # above the kernel's pid_max: never a live process
    for config, words in ((dict(base, ovn_controller_pidfile=stale), 'ovn-controller is not running'),
                          (dict(base, kubeconfig=unreachable_kubeconfig(node)), 'the API server')):
        out = node.plugin('STATUS', config)
        assert out.returncode == 1, out.stdout
        err = json.loads(out.stdout)
        assert err['code'] == 50 and words in err['msg'], err
    assert pod.netns  # STATUS touches no pod


def unreachable_kubeconfig(node):
    """The test kubeconfig with a server where nothing listens."""
    bad = os.path.join(node.tmp, 'nowhere.kubeconfig')
    with open(node.kube.kubeconfig) as f:
        config = json.load(f)
    config['clusters'][0]['cluster']['server'] = 'https://127.0.0.1:1'
    with open(bad, 'w') as f:
        json.dump(config, f)
    return bad


def test_bad_config_and_environment(node, k8s_namespace):
    pod = node.pod(k8s_namespace, 'bad', pod_network('10.128.1.60/24', '0a:58:0a:80:01:3c', '10.128.1.1'))
    base = dict(node.plugin_config(), cniVersion='1.0.0', name='ovn-k8s')
    env = dict(CNI_CONTAINERID='c1', CNI_NETNS=pod.netns_path, CNI_IFNAME='eth0',
               CNI_ARGS='K8S_POD_NAMESPACE=%s;K8S_POD_NAME=bad' % k8s_namespace)
    for config, extra_env, code, msg in [
        (dict(base, mtu='big'), {}, 7, "network ovn-k8s: mtu is 'big'; expected an integer from 576 to 65535"),
        (dict(base, bridge='a-very-long-bridge-name'), {}, 7, 'bridge is'),
        (dict(base, kubeconfig='/nonexistent'), {}, 7, 'the kubeconfig /nonexistent does not exist'),
        ('{not json', {}, 6, 'the network configuration on stdin is not JSON'),
        (base, dict(CNI_ARGS='K8S_POD_NAMESPACE=x'), 4, 'CNI_ARGS must give K8S_POD_NAMESPACE and K8S_POD_NAME'),
        (base, dict(CNI_IFNAME='a/b'), 4, "CNI_IFNAME 'a/b' is not a valid interface name"),
        (base, dict(CNI_NETNS=''), 4, 'ADD needs the environment variable CNI_NETNS'),
        (dict(base, bridge='br-missing'), {}, 999, 'the bridge br-missing does not exist in the Open vSwitch database'),
        # The Southbound database, read after the veth and the interface exist: both go again.
        (dict(base, sb_remote='unix:/nonexistent.sock'), {}, 11,
         'pod %s/bad: cannot reach the OVN Southbound database at unix:/nonexistent.sock' % k8s_namespace),
        (dict(base, sb_remote='ssl:127.0.0.1:6642'), {}, 7,
         'the remote ssl:127.0.0.1:6642 uses SSL but ssl_key, ssl_cert, ssl_ca_cert are not given'),
    ]:
        node.annotate(pod)
        out = node.plugin('ADD', config, **dict(env, **extra_env))
        error = json.loads(out.stdout)
        assert out.returncode == 1 and error['code'] == code and msg in error['msg'], (config, out.stdout, out.stderr)
        assert node.veths() == [] and node.ports() == [] and pod_side(pod) is None
    # ADD with the API server unreachable: try again later, nothing made.
    out = node.plugin('ADD', dict(base, kubeconfig=unreachable_kubeconfig(node), annotation_timeout=1), **env)
    error = json.loads(out.stdout)
    assert error['code'] == 11 and 'pod %s/bad: cannot reach the API server at https://127.0.0.1:1' % k8s_namespace in error['msg'], error
    assert node.veths() == [] and node.ports() == []
    # CHECK without prevResult, STATUS without the database.
    out = node.plugin('CHECK', base, **env)
    assert json.loads(out.stdout)['code'] == 7 and 'has no prevResult' in out.stdout
    out = node.plugin('STATUS', dict(base, ovs_remote='unix:/nonexistent.sock', cniVersion='1.1.0'))
    assert out.returncode == 1 and json.loads(out.stdout)['code'] == 50


def test_version(node):
    for asked, answered in (('1.1.0', '1.1.0'), ('0.4.0', '0.4.0'), ('0.3.1', '1.1.0')):
        out = node.plugin('VERSION', {'cniVersion': asked})
        assert out.returncode == 0 and json.loads(out.stdout) == {
            'cniVersion': answered, 'supportedVersions': ['0.4.0', '1.0.0', '1.1.0']}, out.stdout
    out = node.plugin('VERSION', '')
    assert json.loads(out.stdout)['cniVersion'] == '1.1.0'
    out = node.plugin('NOPE', '{}')
    assert out.returncode == 1 and json.loads(out.stdout)['code'] == 4


def test_installed_layout_finds_its_code(tmp_path):
    """Laid out as the ovn_node role installs it (agents/ and plugins/module_utils/ under
    ansible_collections/ovn_k8s/overlay, the executable reached through a symlink), the plugin
    runs under the system Python with nothing else on its path."""
    collection_root()
    repo = os.path.dirname(os.path.dirname(PLUGIN))
    repo = os.path.dirname(repo)
    base = tmp_path / 'lib' / 'ansible_collections' / 'ovn_k8s' / 'overlay'
    (base / 'plugins').mkdir(parents=True)
    subprocess.check_call(['cp', '-r', os.path.join(repo, 'agents'), str(base / 'agents')])
    subprocess.check_call(['cp', '-r', os.path.join(repo, 'plugins', 'module_utils'), str(base / 'plugins' / 'module_utils')])
    link = tmp_path / 'ovn-k8s-cni-overlay'
    link.symlink_to(base / 'agents' / 'bin' / 'ovn-k8s-cni-overlay')
    env = dict(PATH='/usr/bin:/bin', CNI_COMMAND='VERSION', OVN_K8S_CNI_PYTHON=SYSTEM_PYTHON)
    out = subprocess.run([str(link)], input='{"cniVersion":"1.0.0"}', stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, env=env, cwd=str(tmp_path), check=False)
    assert out.returncode == 0 and json.loads(out.stdout)['cniVersion'] == '1.0.0', out.stderr
    env['CNI_COMMAND'] = 'STATUS'
    out = subprocess.run([str(link)], input='{"cniVersion":"1.1.0","name":"n","ovs_remote":"unix:/nonexistent.sock","log_file":"%s"}'
                         % (tmp_path / 'log'), stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                         env=env, cwd=str(tmp_path), check=False)
    assert out.returncode == 1 and json.loads(out.stdout)['code'] == 50, (out.stdout, out.stderr)
