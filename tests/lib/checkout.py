# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checkout the tests run from (plain Python, no pytest): where it is, the directory that
makes it importable as ``ansible_collections.ovn_k8s.overlay``, and ``ip -j`` in a namespace."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/lib/ -> the checkout


def collection_root():
    """A directory holding ansible_collections/ovn_k8s/overlay -> this checkout."""
    root = os.path.join(REPO, '.build')
    link = os.path.join(root, 'ansible_collections', 'ovn_k8s', 'overlay')
    if not os.path.islink(link) or os.path.realpath(link) != REPO:
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(REPO, link)
    return root


def ip_json(netns, *args):
    """``ip -j`` output inside a network namespace, parsed."""
    out = subprocess.check_output(['ip', '-n', netns, '-j'] + list(args), universal_newlines=True)
    return json.loads(out or '[]')
