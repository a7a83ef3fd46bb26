# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-in for pip's get-pip.py, which ansible-test runs in each sanity test virtualenv.

ansible-test creates those virtualenvs without pip and bootstraps pip with a script it
downloads from a host that is not reachable here; when the download fails it asks for the
script to be saved into ~/.ansible/test/cache. scripts/setup saves this file there instead.
It does what get-pip.py does: install pip (the version given on the command line) into the
running interpreter, here from the standard library's ensurepip and then the package index.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import sys

# get-pip.py options that "pip install" does not know.
GET_PIP_ONLY = ('--no-setuptools', '--no-wheel')


def main():
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade', '--default-pip'])
    os.execv(sys.executable, [sys.executable, '-m', 'pip', 'install', '--upgrade'] + args)


if __name__ == '__main__':
    main()
