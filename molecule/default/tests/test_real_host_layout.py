# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What site.yml leaves on the lab's nodes for a real container runtime (issue 24, item 1):
the plugin with loopback and portmap where Debian's containerd (/usr/lib/cni) and upstream
containerd and CRI-O (/opt/cni/bin) look, the one network configuration that sorts first with
portmap chained, its root-only kubeconfig, and no configuration of earlier versions."""

import json

import pytest

LAB_NODES = ('node1', 'node2')


@pytest.mark.parametrize('host', LAB_NODES)
def test_cni_layout_for_containerd_and_crio(lab, host):
    node = lab[host]
    for bin_dir in ('/usr/lib/cni', '/opt/cni/bin'):
        plugin = node.file(bin_dir + '/ovn-k8s-cni-overlay')
        assert plugin.exists and node.file(plugin.linked_to).mode & 0o111, bin_dir
        for companion in ('loopback', 'portmap'):
            assert node.file(bin_dir + '/' + companion).exists, (bin_dir, companion)
    confs = node.check_output('ls /etc/cni/net.d').split()
    assert confs == ['00-ovn-k8s.conflist'], confs
    conflist = json.loads(node.file('/etc/cni/net.d/00-ovn-k8s.conflist').content_string)
    assert [p['type'] for p in conflist['plugins']] == ['ovn-k8s-cni-overlay', 'portmap']
    assert conflist['plugins'][1]['capabilities'] == {'portMappings': True}
    kubeconfig = node.file(conflist['plugins'][0]['kubeconfig'])
    assert kubeconfig.exists and kubeconfig.mode == 0o600 and kubeconfig.user == 'root'
    # portmap needs iptables on the node.
    assert node.run('iptables --version').rc == 0
