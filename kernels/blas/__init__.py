"""Matrix products from compiled code: SciPy's BLAS gemm called on blocks by the kernel threads
(products.py)."""
