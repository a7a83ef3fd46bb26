# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the agents' pure translation code (no I/O): ``agents/`` and the collection's
module_utils are made importable here."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, 'agents'))
