# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Mirrors EXTERNAL_IDS_SPEC in plugins/module_utils/_common.py.
    DOCUMENTATION = r'''
options:
  external_ids:
    description:
      - Keys of the object's C(external_ids) to set. Values are stored as strings.
      - Keys not given are kept unless O(purge_external_ids=true).
    type: dict
  purge_external_ids:
    description: Remove C(external_ids) keys not given in O(external_ids).
    type: bool
    default: false
'''
