"""Files that are never half-written and pickles that never run code.

* :func:`atomic_path`: write to a temporary file beside the target, then rename.
  The temporary name, ``.<name>.bach2-<pid>-<random>.tmp``, is hidden and ends
  in ``.tmp``, so no reader takes it for data (globs for ``*.npz``, ``*.mid`` …
  never match it). One left behind by a killed process (SIGKILL, power cut) is
  removed by the next atomic write into the same folder once its process has ended.
* :func:`save_pickle` / :func:`load_pickle`: pickles of plain data (dicts,
  lists, numbers, strings, NumPy arrays); loading goes through a restricted
  unpickler that refuses any other global, so a ``__reduce__`` that would run
  code raises :class:`UnsafePickleError` instead.
* :func:`save_npz`: the same arrays as ``.npz``.
* :func:`save_png`: a matplotlib figure as PNG (then closed).
"""
import contextlib
import io
import os
import pickle
import re
import tempfile

import numpy as np

#: The only globals a Bach2.0 pickle may name: what NumPy needs to rebuild arrays.
ALLOWED_GLOBALS = {
    ('numpy', 'ndarray'), ('numpy', 'dtype'),
    ('numpy.core.multiarray', '_reconstruct'), ('numpy._core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', 'scalar'), ('numpy._core.multiarray', 'scalar'),
    ('numpy.core.numeric', '_frombuffer'), ('numpy._core.numeric', '_frombuffer'),
    ('collections', 'OrderedDict'), ('builtins', 'set'), ('builtins', 'frozenset'),
}


_UMASK = os.umask(0)
os.umask(_UMASK)


#: ``.<name>.bach2-<pid>-<random>.tmp``: a file :func:`atomic_path` is writing (or a killed process left).
TEMPORARY_NAME = re.compile(r'^\..+\.bach2-(\d+)-[^.]+\.tmp$')


class UnsafePickleError(Exception):
    """A pickle that names a global outside :data:`ALLOWED_GLOBALS` (it could run code)."""


def _running(pid):
    """Whether process ``pid`` exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:          # someone else's process
        return True
    return True


def remove_stale_temporaries(directory):
    """Delete the temporary files in ``directory`` whose writing process has ended → their names."""
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        match = TEMPORARY_NAME.match(name)
        if match and int(match.group(1)) != os.getpid() and not _running(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError):      # another writer cleaned it first
                os.remove(os.path.join(directory, name))
                removed.append(name)
    return removed


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    Stale temporary files of ended processes in the same folder are removed first.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    remove_stale_temporaries(directory)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f'.{os.path.basename(path)}.bach2-{os.getpid()}-',
                                         suffix='.tmp')
    os.close(handle)
    os.chmod(temporary, 0o666 & ~_UMASK)   # mkstemp makes 0600; give the file the usual mode
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def save_pickle(obj, path):
    """Pickle ``obj`` (plain data only) to ``path`` atomically."""
    with atomic_path(path) as temporary, open(temporary, 'wb') as handle:
        pickle.dump(obj, handle, protocol=4)


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafePickleError(f'{module}.{name}')
        return super().find_class(module, name)


def load_pickle(path):
    """Load a pickle of plain data; refuses (one-line :class:`UnsafePickleError`) anything that could run code."""
    with open(path, 'rb') as handle:
        data = handle.read()
    try:
        return _RestrictedUnpickler(io.BytesIO(data)).load()
    except UnsafePickleError as error:
        raise UnsafePickleError(f'{path}: refused to load: the pickle calls {error}, '
                                'which could run code (only plain data and NumPy arrays are allowed)') from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise UnsafePickleError(f'{path}: not a readable pickle ({error})') from None


def save_npz(path, **arrays):
    """``np.savez_compressed`` to ``path`` atomically."""
    with atomic_path(path) as temporary, open(temporary, 'wb') as handle:
        np.savez_compressed(handle, **arrays)


def save_png(figure, path, dpi=90, **options):
    """Write a matplotlib ``figure`` to ``path`` as PNG atomically, close it → ``path``."""
    import matplotlib.pyplot as plt
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format='png', dpi=dpi, **options)
    plt.close(figure)
    return path
