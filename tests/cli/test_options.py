"""``kmsecdh.cli.options`` mirrors ``kmsecdh.cli.commands``: each options module registers only commands
whose handler is a function of its namesake, and ``COMMAND_REGISTRATIONS`` registers every command."""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil

import pytest

from kmsecdh.cli import commands, options
from kmsecdh.cli.errors import UsageError
from kmsecdh.cli.parser import COMMAND_REGISTRATIONS, COMMANDS_PACKAGE, Parser, parse_arguments

SHARED_OPTIONS_MODULE = "common"


def _module_names(package: object) -> set[str]:
    return {module.name for module in pkgutil.iter_modules(package.__path__)}


def _handlers(parser: argparse.ArgumentParser) -> list[str]:
    """The handler of every leaf subcommand under ``parser``."""
    subparsers = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    if not subparsers:
        return [parser.get_default("handler")]
    return [handler for action in subparsers for sub in action.choices.values() for handler in _handlers(sub)]


def _registered_handlers(register) -> list[str]:
    parser = Parser(prog="kmsecdh")
    register(parser.add_subparsers(dest="command", required=True))
    return _handlers(parser)


def test_one_options_module_per_commands_module() -> None:
    assert _module_names(options) - {SHARED_OPTIONS_MODULE} == _module_names(commands)


def test_each_registration_names_handlers_of_its_namesake_commands_module() -> None:
    for register in COMMAND_REGISTRATIONS:
        module_name = register.__module__.rpartition(".")[2]
        for handler in _registered_handlers(register):
            handler_module, _, function_name = handler.partition(":")
            assert handler_module == module_name, (register.__qualname__, handler)
            module = importlib.import_module(f"{COMMANDS_PACKAGE}.{handler_module}")
            assert callable(getattr(module, function_name, None)), handler


def test_every_registration_function_is_registered() -> None:
    declared = {
        function
        for name in _module_names(options) - {SHARED_OPTIONS_MODULE}
        for function_name, function in inspect.getmembers(
            importlib.import_module(f"{options.__name__}.{name}"), inspect.isfunction
        )
        if function_name.startswith("add_") and function.__module__ == f"{options.__name__}.{name}"
    }
    assert declared == set(COMMAND_REGISTRATIONS)


# A JWK thumbprint or a base64url value begins with "-" one time in 64: argparse then reads it as an option.
DASH_KID = "-Qw3rTy"
JWE_ENCRYPT = [
    *("jwe", "encrypt", "--peer-public-key", "bob.jwks.json", "--alg", "ECDH-ES", "--enc", "A256GCM"),
    *("--in", "note", "--out", "note.jwe"),
]


def test_a_value_that_begins_with_a_dash_is_given_with_an_equals_sign() -> None:
    assert parse_arguments([*JWE_ENCRYPT, f"--kid={DASH_KID}"]).kid == DASH_KID


def test_the_usage_error_says_how_to_give_a_value_that_begins_with_a_dash() -> None:
    with pytest.raises(UsageError) as raised:
        parse_arguments([*JWE_ENCRYPT, "--kid", DASH_KID])
    assert (
        "argument --kid: expected one argument; a value that begins with '-' is given as --kid=VALUE"
        in str(raised.value)
    )
