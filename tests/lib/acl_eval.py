# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small evaluator of OVN ACLs, written for the tests and independent of the translator in
agents/ovn_k8s_agents/policy.py: it parses the OVN match language (enough of it for ACLs:
&&, ||, !, parentheses, ==, !=, <=, >= on inport/outport, ip4/ip6 src/dst, tcp/udp/sctp dst,
port groups @pg, address sets $as and literal sets) and decides a connection the way OVN's
ACL stages do: per stage (direction, and apply-after-lb for from-lport), the highest-priority
matching ACL decides; no match passes. Used by tests/agents and tests/kube."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re


class Peer:
    def __init__(self, ip, ns=None, pod=None):
        self.ip, self.ns, self.pod = ip, ns, pod
        self.lsp = '%s_%s' % (ns, pod) if pod else None

    def __eq__(self, other):
        return isinstance(other, str) and other == ('%s/%s' % (self.ns, self.pod) if self.pod else self.ip)

    __hash__ = object.__hash__

    def __repr__(self):
        return '%s/%s' % (self.ns, self.pod) if self.pod else self.ip


# A small evaluator of the OVN match language, enough for ACLs -------------------------
_TOKEN = re.compile(r'\s*(&&|\|\||==|!=|>=|<=|[(){},!]|"[^"]*"|[^\s(){},!=<>&|"]+)')


def tokenize(text):
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        assert m and m.end() > pos, 'cannot read %r at %d' % (text, pos)
        out.append(m.group(1))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class Match:
    """Parse once, evaluate against packets: dict(inport, outport, ip4.src, ip4.dst, proto, dport)."""

    def __init__(self, text, model):
        self.tokens, self.i, self.model = tokenize(text), 0, model
        self.tree = self.disj()
        assert self.i == len(self.tokens), 'trailing tokens in %r' % text

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, want=None):
        tok = self.peek()
        assert want is None or tok == want, 'expected %r, got %r' % (want, tok)
        self.i += 1
        return tok

    def disj(self):
        terms = [self.conj()]
        while self.peek() == '||':
            self.take()
            terms.append(self.conj())
        return ('or', terms)

    def conj(self):
        terms = [self.unary()]
        while self.peek() == '&&':
            self.take()
            terms.append(self.unary())
        return ('and', terms)

    def unary(self):
        if self.peek() == '!':
            self.take()
            return ('not', self.unary())
        if self.peek() == '(':
            self.take()
            inner = self.disj()
            self.take(')')
            return inner
        field = self.take()
        if self.peek() in ('==', '!=', '>=', '<='):
            op = self.take()
            return ('cmp', field, op, self.values())
        return ('field', field)

    def values(self):
        if self.peek() == '{':
            self.take()
            out = [self.take()]
            while self.peek() == ',':
                self.take()
                out.append(self.take())
            self.take('}')
            return out
        return [self.take()]

    def eval(self, pkt, node=None):
        kind = (node or self.tree)[0]
        node = node or self.tree
        if kind == 'or':
            return any(self.eval(pkt, t) for t in node[1])
        if kind == 'and':
            return all(self.eval(pkt, t) for t in node[1])
        if kind == 'not':
            return not self.eval(pkt, node[1])
        if kind == 'field':
            name = node[1]
            if name == 'ip':
                return True
            if name in ('ip4', 'ip6'):
                return ipaddress.ip_address(pkt['ip4.src']).version == int(name[-1])
            if name in ('tcp', 'udp', 'sctp'):
                return pkt['proto'] == name
            if name in ('arp', 'nd'):
                return False
            raise AssertionError('unknown field %s' % name)
        field, op, values = node[1:]
        if field in ('inport', 'outport'):
            have = pkt.get(field)
            if have is None:
                return False
            members = set()
            for v in values:
                members |= set(self.model['pg'][v[1:]]) if v.startswith('@') else {v.strip('"')}
            hit = have in members
        elif field.startswith(('ip4.', 'ip6.')):
            have = ipaddress.ip_address(pkt[field.replace('ip6.', 'ip4.')])
            if have.version != int(field[2]):
                return False  # the prerequisite (ip4 or ip6) fails
            nets = []
            for v in values:
                nets += [ipaddress.ip_network(a) for a in self.model['as'][v[1:]]] if v.startswith('$') \
                    else [ipaddress.ip_network(v)]
            if op == '!=':
                return all(have not in n for n in nets)
            hit = any(have in n for n in nets)
        elif field.endswith('.dst') and field.split('.')[0] in ('tcp', 'udp', 'sctp'):
            if pkt['proto'] != field.split('.')[0]:
                return False
            nums = [int(v) for v in values]
            if op == '>=':
                return pkt['dport'] >= nums[0]
            if op == '<=':
                return pkt['dport'] <= nums[0]
            hit = pkt['dport'] in nums
        else:
            raise AssertionError('unknown field %s' % field)
        return hit if op == '==' else not hit


class Evaluator:
    def __init__(self, model):
        self.data = dict(pg=dict((pg['name'], pg['ports']) for pg in model['port_groups']),
                         **{'as': dict((a['name'], a['addresses']) for a in model['address_sets'])})
        assert len(self.data['pg']) == len(model['port_groups']), 'duplicate port group names'
        assert len(self.data['as']) == len(model['address_sets']), 'duplicate address set names'
        self.stages = {}
        for pg in model['port_groups']:
            for acl in pg['acls']:
                after_lb = (acl.get('options') or {}).get('apply-after-lb') == 'true'
                stage = (acl['direction'], after_lb)
                assert not after_lb or acl['direction'] == 'from-lport'
                self.stages.setdefault(stage, []).append((acl['priority'], acl['action'], Match(acl['match'], self.data)))

    def allowed(self, src, dst, proto, port):
        pkt = {'inport': src.lsp, 'outport': dst.lsp, 'ip4.src': src.ip, 'ip4.dst': dst.ip,
               'proto': proto.lower(), 'dport': port}
        for (direction, dummy), acls in sorted(self.stages.items()):
            if direction == 'from-lport' and src.lsp is None:
                continue  # from outside the cluster: no logical switch port to leave from
            hits = [(prio, action) for prio, action, m in acls if m.eval(pkt)]
            if not hits:
                continue
            top = max(hit[0] for hit in hits)
            actions = set(a for p, a in hits if p == top)
            assert len(actions) == 1, 'ACLs of one priority disagree: %s' % hits
            if actions.pop() in ('drop', 'reject'):
                return False
        return True
