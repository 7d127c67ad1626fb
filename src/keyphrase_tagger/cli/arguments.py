"""Command-line arguments checked before Hydra composes the config, so that the usual slips get one
line that says what to type: a mistyped key (``topk=5``: did you mean ``top_k``?), a bare path
(``kpt-predict DIR FILE``: settings are ``key=value``), an option a config group does not have
(``model=bert-base-chinese``: the options are ...).

Only what is certainly wrong is reported here; everything else (``+key=`` / ``++key=`` / ``~key``,
``hydra.*``, ``--cfg``, sweeps, value errors) goes on to Hydra unchanged. A key counts as known if
the config composed with the command line's group choices has it; for a swept group
(``-m experiment=a,b``) every choice is composed.
"""

from __future__ import annotations

import argparse
import difflib
import itertools

from omegaconf import DictConfig


class _ArgumentsError(Exception):
    pass


def _parsed_args(argv: list[str]) -> argparse.Namespace | None:
    """Hydra's own flags parsed as Hydra parses them; ``None`` where argparse objects (Hydra
    then reports it itself)."""
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()

    def error(message: str) -> None:
        raise _ArgumentsError(message)

    parser.error = error  # type: ignore[method-assign]
    try:
        return parser.parse_args(argv)
    except _ArgumentsError:
        return None


def _parse(text: str, command: str):
    """One override parsed, or the one-line problem with it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    try:
        return OverridesParser.create().parse_overrides([text])[0]
    except OverrideParseException as err:
        if "=" not in text and not text.startswith(("~", "+")):
            return (f"'{text}' is not a setting: {command} takes key=value settings "
                    f"(e.g. {_example(command)}); {command} --help lists them")
        lines = str(err).splitlines()
        reason = lines[1] if lines[0].startswith("Error parsing override") and len(lines) > 1 else lines[0]
        if reason.startswith("LexerNoViableAltException") and len(lines) > 1:
            column = len(lines[1]) - 1 - len("LexerNoViableAltException: ")
            reason = f"unexpected character at position {column + 1}"
        if "=" not in text:
            return f"cannot read the setting '{text}': {reason}"
        key, value = text.split("=", 1)
        return f"""cannot read the setting '{text}': {reason} (quote the value: '{key}="{value}"')"""


def _example(command: str) -> str:
    examples = {"kpt-predict": "checkpoint=DIR input=FILE output=FILE", "kpt-evaluate": "checkpoint=DIR split=test",
                "kpt-cv-report": "sweep_dir=DIR", "kpt-train": "seed=7 output_dir=DIR",
                "kpt-prepare": "data.corpus_path=FILE"}
    return examples.get(command, "key=value")


def check_arguments(argv: list[str], config_name: str, command: str) -> str | None:
    """The first certain mistake on the command line ``argv`` of ``command``, as one line; ``None``
    when Hydra should take it from here."""
    args = _parsed_args(argv)
    if args is None or args.help or args.hydra_help or args.shell_completion or args.info:
        return None
    if args.config_dir or args.config_path:
        return None  # another config tree: its keys are not ours to know
    overrides = []
    for text in args.overrides:
        parsed = _parse(text, command)
        if isinstance(parsed, str):
            return parsed
        overrides.append(parsed)
    missing = _missing_launcher(overrides)
    if missing:
        return missing
    checked = [o for o in overrides if not (o.is_hydra_override() or o.key_or_group == "hydra" or o.is_add()
                                            or o.is_force_add() or o.is_delete() or o.package is not None)]
    if not checked:
        return None
    return _check_keys(checked, args.config_name or config_name, command)


def _missing_launcher(overrides: list) -> str | None:
    """``hydra/launcher=submitit_*`` or a search preset (``hparams_search=``, Hydra's Optuna sweeper)
    where the plugin is not installed (Hydra would list the plugins it has, over several lines)."""
    import importlib.util

    for o in overrides:
        if o.key_or_group == "hydra/launcher" and str(o.value()).startswith("submitit"):
            if importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is None:
                return (f"hydra/launcher={o.value()} needs Hydra's submitit launcher, which is not installed: "
                        "pip install 'keyphrase-tagger[cluster]' (or hydra-submitit-launcher)")
        if o.key_or_group == "hparams_search" and o.value() not in (None, "null"):
            if importlib.util.find_spec("hydra_plugins.hydra_optuna_sweeper") is None:
                return (f"hparams_search={o.value()} needs Hydra's Optuna sweeper, which is not installed: "
                        "pip install 'keyphrase-tagger[search]' (or hydra-optuna-sweeper)")
    return None


def _check_keys(overrides: list, config_name: str, command: str) -> str | None:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from keyphrase_tagger.cli.common import CONFIG_DIR

    try:
        with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR):
            choices = compose(config_name, return_hydra_config=True).hydra.runtime.choices
            groups = {g for g in choices if not g.startswith("hydra")}
            loader = GlobalHydra.instance().config_loader()
            selected: dict[str, list[str]] = {}
            for o in (o for o in overrides if o.key_or_group in groups):
                values = _group_values(o)
                problem = _check_options(o, values, sorted(loader.get_group_options(o.key_or_group)))
                if problem:
                    return problem
                if values:
                    selected[o.key_or_group] = values
            configs = [compose(config_name, [f"{g}={v}" for g, v in combo])
                       for combo in _choice_variants(selected)]
    except (HydraException, OmegaConfBaseException):
        return None  # Hydra's own message says more than we could
    for o in overrides:
        if o.key_or_group not in groups and not any(_has_key(cfg, o.key_or_group) for cfg in configs):
            return _unknown_key(o.key_or_group, sorted(set(itertools.chain(*(_key_paths(c) for c in configs)))),
                                command)
    return None


def _group_values(override) -> list[str | None]:
    """The options a group override names: one, or each of a ``-m`` choice sweep."""
    from hydra.core.override_parser.types import ValueType

    if override.value_type in (ValueType.CHOICE_SWEEP, ValueType.SIMPLE_CHOICE_SWEEP):
        return list(override.sweep_string_iterator())
    if override.is_sweep_override():
        return []  # a glob or range over options: Hydra expands and checks it
    value = override.value()
    return [None] if value is None else [str(value)]


def _check_options(override, values: list[str | None], options: list[str]) -> str | None:
    group = override.key_or_group
    for value in values:
        if value is None:
            return f"{override.input_line}: a config group takes one of its options; ~{group} leaves it out"
        if value not in options:
            close = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            return f"unknown {group} '{value}'{hint} ({group} is one of: {', '.join(options)})"
    return None


def _choice_variants(selected: dict[str, list]) -> list[list[tuple[str, object]]]:
    """The first choice of every group, then each other choice of one group at a time: every key
    any job of a sweep can have, without composing the whole product."""
    first = [(g, values[0]) for g, values in selected.items()]
    variants = [first]
    for i, (group, values) in enumerate(selected.items()):
        variants += [first[:i] + [(group, v)] + first[i + 1 :] for v in values[1:]]
    return variants


def _has_key(cfg: DictConfig, key: str) -> bool:
    """Whether ``key`` (``a.b.c``) names a node of ``cfg``; a path through a list, a null or an
    interpolation counts as present (Hydra decides those)."""
    node = cfg
    for part in key.split("."):
        if not isinstance(node, DictConfig) or node._is_none() or node._is_interpolation():
            return True
        if part not in node:
            return False
        node = node._get_node(part)
    return True


def _key_paths(cfg: DictConfig, prefix: str = "") -> list[str]:
    paths = []
    for key in cfg.keys():
        path = f"{prefix}{key}"
        paths.append(path)
        node = cfg._get_node(key)
        if isinstance(node, DictConfig) and not node._is_none() and not node._is_interpolation():
            paths += _key_paths(node, path + ".")
    return paths


def _unknown_key(key: str, known: list[str], command: str) -> str:
    leaf = key.rsplit(".", 1)[-1]
    same_leaf = [k for k in known if k.rsplit(".", 1)[-1] == leaf]
    parent = key.rpartition(".")[0]
    siblings = {k.rpartition(".")[2]: k for k in known if k.rpartition(".")[0] == parent}
    if len(same_leaf) == 1:
        close = same_leaf  # fold=1 -> data.split.fold
    elif siblings:  # compared by their last part: trainer.lr is not close to trainer.report_to
        close = [siblings[k] for k in difflib.get_close_matches(leaf, list(siblings), n=1, cutoff=0.6)]
    else:
        close = difflib.get_close_matches(key, [k for k in known if k.count(".") == key.count(".")], n=1, cutoff=0.6)
    if close:
        return f"unknown key '{key}'; did you mean '{close[0]}'?"
    return f"unknown key '{key}' ({command} --cfg job prints every key)"

