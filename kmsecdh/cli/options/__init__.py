"""The options of ``kmsecdh``'s subcommands: one module per module of ``kmsecdh.cli.commands``.

Each module here declares the options of the commands its namesake in ``kmsecdh.cli.commands`` runs, one
registration function per top-level command (``add_<command>(subcommands)``), and names the handler as
``"<module>:<function>"`` of that package. ``kmsecdh.cli.parser`` calls the registration functions in the
order of the top-level ``--help``. These modules import only the standard library and kmsecdh's light
modules (cryptography at most), so ``kmsecdh --help`` and ``--version`` load no AWS SDK. The option
helpers more than one module uses (the KDF options, output options, hexadecimal values) are in ``common``.
"""
