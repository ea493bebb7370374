"""Every float32 through kernels/expf.py's expf against the C library's expf (numba's np.exp of a
float32), with flush-to-zero and denormals-are-zero off, then on: the count of inputs whose results
differ in any bit (NaN and NaN count as equal). About 3 minutes a setting on 2 cores.

    python scripts/check_expf.py
"""
import argparse
import sys
import time

import numba
import numpy as np
from numba import prange

from mlp_scratch import threads
from mlp_scratch.kernels import denormals
from mlp_scratch.kernels.expf import expf

CHUNK = 1 << 20


@numba.njit(parallel=True)
def mismatches(first, count):
    """Inputs among the float32 of bit patterns first, ..., first + count - 1 where expf differs."""
    found = np.zeros(count // CHUNK + 1, np.int64)
    for chunk in prange(count // CHUNK + 1):
        for k in range(chunk * CHUNK, min((chunk + 1) * CHUNK, count)):
            x = np.array([np.uint32(first + k)], np.uint32).view(np.float32)[0]
            ours, libm = expf(x), np.exp(x)
            same = np.array([ours]).view(np.uint32)[0] == np.array([libm]).view(np.uint32)[0]
            if not (same or (np.isnan(ours) and np.isnan(libm))):
                found[chunk] += 1
    return found.sum()


def main(argv=None):
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    part = 1 << 30
    failed = False
    for flush in (False, True):
        threads.switch_pool(flush)  # every numba thread
        denormals.set_control(denormals.switch(denormals.control(), flush))
        start = time.perf_counter()
        count = sum(mismatches(first, part) for first in range(0, 1 << 32, part))
        print(f"flush-to-zero {'on ' if flush else 'off'}: {count} of 2^32 float32 differ "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
        failed |= count > 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
