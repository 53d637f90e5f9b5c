"""The ``kernelgan`` command line (installed as the package ``kernelgan_cli``)."""
