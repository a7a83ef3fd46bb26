# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build the collection's runtime code (the agents and the module_utils they import) as one
archive, on the controller, for roles/ovn_cluster/tasks/runtime_code.yml.

    python3 runtime_archive.py COLLECTION_DIR [CACHE_DIR]

Prints one JSON object: the digest (sha256 over every file's path, mode and content), the
archive's path and the number of files. The archive is named after the digest and built only
when it is not in the cache yet, so every host of a run (and the next run) reuses it. Whatever
is in the cache goes to every host as root's code, so the cache (by default
``$XDG_CACHE_HOME/ovn_k8s/runtime``, else ``~/.cache/ovn_k8s/runtime``) must belong to the user
running this and be writable by no one else: otherwise nothing is built and it says why. Its
members are ansible_collections/ovn_k8s/overlay/<path>, owned by root, with a fixed time, in
sorted order: the same code always gives the same bytes. No caches (__pycache__) go in.
Runs under the controller's Python; only the standard library is used.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile

# What the agents need on a host, relative to the collection's root.
TREES = ('agents', os.path.join('plugins', 'module_utils'))
PREFIX = 'ansible_collections/ovn_k8s/overlay'


def wanted(rel):
    name = os.path.basename(rel)
    if rel.startswith('agents/bin/'):
        return name.startswith('ovn-k8s-')
    return name.endswith('.py')


def runtime_files(collection):
    found = []
    for tree in TREES:
        top = os.path.join(collection, tree)
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if d != '__pycache__' and not d.startswith('.'))
            for name in filenames:
                rel = os.path.relpath(os.path.join(dirpath, name), collection).replace(os.sep, '/')
                if wanted(rel):
                    found.append(rel)
    return sorted(found)


def mode_of(rel):
    return 0o755 if rel.startswith('agents/bin/') else 0o644


def digest_of(collection, files):
    h = hashlib.sha256()
    for rel in files:
        with open(os.path.join(collection, rel), 'rb') as f:
            content = f.read()
        h.update(('%s %o %s\n' % (rel, mode_of(rel), hashlib.sha256(content).hexdigest())).encode('utf-8'))
    return h.hexdigest()


def tar_info(name, size=0, directory=False, mode=0o644):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.mode = 0o755 if directory else mode
    info.size = size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = 'root'
    return info


def write_archive(collection, files, path):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode='w', format=tarfile.PAX_FORMAT) as tar:
        dirs = set()
        for rel in files:
            parts = ('%s/%s' % (PREFIX, rel)).split('/')[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add('/'.join(parts[:i]))
        for d in sorted(dirs):
            tar.addfile(tar_info(d, directory=True))
        for rel in files:
            with open(os.path.join(collection, rel), 'rb') as f:
                content = f.read()
            tar.addfile(tar_info('%s/%s' % (PREFIX, rel), size=len(content), mode=mode_of(rel)), io.BytesIO(content))
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as out:
            with gzip.GzipFile(fileobj=out, mode='wb', mtime=0, filename='') as gz:
                gz.write(raw.getvalue())
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def default_cache():
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'ovn_k8s', 'runtime')


def unsafe(cache):
    """Why ``cache`` cannot be trusted with code that goes to every host, or None."""
    st = os.lstat(cache)
    if not os.path.isdir(cache) or os.path.islink(cache):
        return 'it is not a directory'
    if st.st_uid != os.getuid():
        return 'it belongs to uid %d, not to this user (uid %d)' % (st.st_uid, os.getuid())
    if st.st_mode & 0o022:
        return 'others may write into it (mode %o)' % (st.st_mode & 0o777)
    return None


def main(argv):
    if len(argv) not in (2, 3):
        sys.stderr.write('usage: runtime_archive.py COLLECTION_DIR [CACHE_DIR]\n')
        return 2
    collection = os.path.realpath(argv[1])
    cache = argv[2] if len(argv) == 3 else default_cache()
    files = runtime_files(collection)
    if not any(rel.startswith('agents/bin/') for rel in files):
        sys.stderr.write('runtime_archive.py: no agents/bin/ovn-k8s-* under %s: not the collection\n' % collection)
        return 1
    digest = digest_of(collection, files)
    if not os.path.lexists(cache):
        os.makedirs(cache, 0o700)
    why = unsafe(cache)
    if why:
        sys.stderr.write('runtime_archive.py: the archive cache %s is not safe: %s\n' % (cache, why))
        return 1
    path = os.path.join(cache, 'runtime-%s.tar.gz' % digest)
    built = not os.path.exists(path)
    if built:
        write_archive(collection, files, path)
        # Older archives of this cache are of no use any more.
        for name in os.listdir(cache):
            if name.startswith('runtime-') and name.endswith('.tar.gz') and name != os.path.basename(path):
                os.unlink(os.path.join(cache, name))
    print(json.dumps({'digest': digest, 'archive': path, 'files': len(files), 'built': built}))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
