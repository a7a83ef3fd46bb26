# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ovn_watcher role's cluster objects, as the role installs them (plain Python, no pytest):
its templates (roles/ovn_watcher/templates/k8s_*.yml.j2) rendered with the same variables, so
that a test runs the watcher with exactly what the role gives it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import jinja2
import yaml

from checkout import REPO

TEMPLATES = os.path.join(REPO, 'roles', 'ovn_watcher', 'templates')


def render(template, service_account='ovn-k8s-watcher', namespace='kube-system', lease_name='ovn-k8s-watcher',
           lease_namespace='kube-system'):
    """The list of objects of TEMPLATE (``k8s_identity.yml.j2`` or ``k8s_admission.yml.j2``)."""
    with open(os.path.join(TEMPLATES, template)) as f:
        text = f.read()
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    return yaml.safe_load(env.from_string(text).render(
        ovn_watcher_k8s_service_account=service_account, ovn_watcher_k8s_namespace=namespace,
        ovn_watcher_lease_name=lease_name, ovn_watcher_lease_namespace=lease_namespace))


def as_list(objects):
    """A ``kind: List`` document of OBJECTS in JSON (what ``kubectl apply -f -`` reads)."""
    return json.dumps({'apiVersion': 'v1', 'kind': 'List', 'items': objects})
