"""``asteroid-wsas publish``: an evaluated experiment folder as a hub-ready model folder.

Asteroid shares trained models with a model card: the recipe's ``publish`` stage writes the
weights, the training config and the final metrics, and the card names the data, the
license and the scores. This module does the same for a recipe's experiment folder
(``exp/<tag>``, written by ``asteroid-wsas train`` and ``evaluate``)::

    exp/<tag>/                           FOLDER/
      best_model.pth      ---------->      separator.pth       Separator.save_pretrained
      conf.yml            ---------->      conf.yml            copied
      final_metrics.json  ---------->      final_metrics.json  copied
      all_metrics.csv     (if there) ->    all_metrics.csv     copied
      scores.png          (if there) ->    scores.png          copied
                                           README.md           model card + hub metadata
                                           encoder/            only for an encoder that
                                                               lives in a local folder

``FOLDER`` loads with ``Separator.from_pretrained(FOLDER)`` and
``asteroid-wsas separate ... --model FOLDER``, and uploads as it is to the Hugging Face hub
(``hf upload <user>/<repo> FOLDER .``; ``huggingface-cli upload`` before huggingface_hub
1.0), where the card's front matter fills the model page's tags, license, datasets and
evaluation results.
"""

import csv
import json
import os
import re
import shutil
import string
from importlib import resources
from typing import Any, Dict, List, Optional, Sequence, Union

import yaml

from .separation.contract import read_json, read_yaml
from .utils import refuse_overwrite

__all__ = [
    "publish_experiment",
    "DEFAULT_LICENSE",
    "PAPER_BIBTEX",
    "CARD_FILE",
]

PathLike = Union[str, os.PathLike]

# Asteroid's own hub models are cc-by-sa-4.0 (its publisher writes CC BY-SA notices): share
# alike keeps derived weights open, and it admits CC-BY training data such as AudioCaps'.
DEFAULT_LICENSE = "cc-by-sa-4.0"
CARD_FILE = "README.md"
BASE_TAGS = ("asteroid", "audio", "source-separation", "text-queried-separation", "asteroid-wsas")
COPIED = ("conf.yml", "final_metrics.json")
# what the card says of each file copied when present: in Results, in the Files table
OPTIONAL_FILES = {
    "all_metrics.csv": (
        ", `all_metrics.csv` the score of every query",
        "the score of every test query",
    ),
    "scores.png": (", `scores.png` their distributions", "box plots of the per-mixture scores"),
}
COPIED_IF_PRESENT = tuple(OPTIONAL_FILES)
CARD_TEMPLATE = "templates/model_card.md"  # package data (setup.py), filled by _model_card
PAPER_TITLE = "Weakly-supervised Audio Separation via Bi-modal Semantic Similarity"
PAPER_BIBTEX = """@inproceedings{mahmud2024weakly,
  title     = {Weakly-supervised Audio Separation via Bi-modal Semantic Similarity},
  author    = {Mahmud, Tanvir and Amizadeh, Saeed and Koishida, Kazuhito and Marculescu, Diana},
  booktitle = {The Twelfth International Conference on Learning Representations (ICLR)},
  year      = {2024}
}"""
MAX_WORDS = 300  # vocabulary words listed in a card (the file holds them all)
MAX_TEST_QUERIES = 20
# which stage writes each required file: the error says what to run
REQUIRED = {
    "best_model.pth": "the training stage writes it (`asteroid-wsas train --exp-dir EXP_DIR`, "
    "recipe stage 3)",
    "conf.yml": "the training stage writes it beside best_model.pth (`asteroid-wsas train`, "
    "recipe stage 3)",
    "final_metrics.json": "the evaluation stage writes it (`asteroid-wsas evaluate "
    "TEST_MANIFEST -o EXP_DIR --model EXP_DIR/best_model.pth`, recipe stage 4)",
}
TEXT_KINDS = ("bert", "clip", "clip_image")  # prefixes of text-only / CLIP encoder names


def publish_experiment(
    exp_dir: PathLike,
    output: PathLike,
    *,
    force: bool = False,
    license: str = DEFAULT_LICENSE,
    dataset: Union[None, str, Sequence[str]] = None,
    intended_queries: Optional[Sequence[str]] = None,
    test_set: Optional[str] = None,
    encoder: Optional[str] = None,
) -> str:
    """Write a hub-ready model folder from an evaluated recipe experiment.

    Reads ``exp_dir/best_model.pth`` with :meth:`~asteroid_wsas.Separator.from_pretrained`
    (the encoder named in the ``conf.yml`` beside it) and writes ``output/separator.pth``
    with :meth:`~asteroid_wsas.Separator.save_pretrained` (small encoders inside the file;
    an encoder that lives in a local folder is copied to ``output/encoder/`` so that the
    folder works on other machines; a hub id is kept as a name), copies ``conf.yml``,
    ``final_metrics.json`` (and ``all_metrics.csv``, ``scores.png`` when present), and
    writes the model card ``README.md``: a YAML front-matter block for the Hugging Face hub
    (tags, ``library_name``, datasets, license, ``pipeline_tag``, ``model-index`` with the
    scores), then the model, its training, the scores, intended use and queries, usage,
    limitations and the citation. Everything is read and checked before anything is
    written.

    Args:
        exp_dir: The experiment folder (``exp/<tag>``).
        output: The folder to write; it must be absent or empty unless ``force``.
        force: Write into a non-empty folder, overwriting the files of the same names
            (other files there are left alone).
        license: License id for the hub (``cc-by-sa-4.0``: as Asteroid's models).
        dataset: Name(s) of the training data for the card's ``datasets``; default
            ``data.dataset`` of conf.yml (and ``data.clean_data``'s).
        intended_queries: Queries the model is meant for, listed in the card.
        test_set: Name of the test set of final_metrics.json; default its ``test_set`` key,
            else the name ``asteroid-wsas prepare`` gives a recipe's test set
            (``<dataset>-<N>mix-test``, N from the scores' counts).
        encoder: An encoder to bundle instead of conf.yml's ``encoder.name`` (a small
            encoder file, CLAP folder or hub id, ``bert:...``), e.g. after the experiment
            folder moved.

    Returns:
        str: the model card's path.

    Raises:
        ValueError: A required file is missing (naming the stage that writes it), a file
            is not what the stages write, ``output`` is ``exp_dir`` or a file, or an
            argument is empty.
        FileExistsError: ``output`` is not empty (or is a file) and ``force`` is False.

    Examples:
        >>> card = publish_experiment("exp/weak_tiny", "exp/weak_tiny/publish")  # doctest: +SKIP
        >>> Separator.from_pretrained("exp/weak_tiny/publish")  # doctest: +SKIP
    """
    from .encoders.loading import load_encoder
    from .separation.separator import Separator

    exp_dir, output = os.fspath(exp_dir), os.fspath(output)
    if not os.path.isdir(exp_dir):
        raise ValueError(f"experiment folder {exp_dir} not found")
    paths = {name: os.path.join(exp_dir, name) for name in REQUIRED}
    for name, path in paths.items():
        if not os.path.isfile(path):
            raise ValueError(f"{path} not found: {REQUIRED[name]}")
    if not license or not license.strip():
        raise ValueError("license must be a license id, e.g. cc-by-sa-4.0")
    datasets = _names(dataset, "dataset")
    intended = _names(intended_queries, "intended_queries")
    _check_output(exp_dir, output, force)

    conf = _read_conf(paths["conf.yml"])
    metrics = _read_metrics(paths["final_metrics.json"])
    model_file = paths["best_model.pth"]
    # conf.yml's encoder unless one is given (the recipe's "tiny": its stage-2 file)
    spec = encoder or _encoder_named(conf, paths["conf.yml"])
    try:
        query_encoder = load_encoder(spec)
    except (OSError, ValueError) as err:  # a folder or hub id that does not load here
        where = "--encoder" if encoder else f"encoder.name of {paths['conf.yml']}"
        raise ValueError(f"encoder {spec} ({where}) could not be loaded ({err})") from None
    separator = Separator.from_pretrained(model_file, encoder=query_encoder)
    separator.encoder_name = spec  # saved by this name, or copied below (a local folder)
    bundled = _bundle_local_encoder(separator)
    infos = _package_infos(model_file)

    csv_path = os.path.join(exp_dir, "all_metrics.csv")
    card = _model_card(
        separator,
        conf,
        metrics,
        name=_model_name(separator, conf, infos, datasets),
        folder=os.path.basename(os.path.normpath(output)),
        license=license.strip(),
        datasets=datasets or _conf_datasets(conf),
        test_set=test_set or _test_set_name(metrics, conf),
        intended=intended,
        test_queries=_test_queries(csv_path) if os.path.isfile(csv_path) else [],
        objective=infos.get("objective") or (conf.get("objective") or {}).get("name"),
        training_log=_training_log(exp_dir),
        bundled=bundled,
        extras=[n for n in COPIED_IF_PRESENT if os.path.isfile(os.path.join(exp_dir, n))],
    )

    # everything checked and built: now write
    os.makedirs(output, exist_ok=True)
    separator_file = separator.save_pretrained(output, force=True)
    for name in COPIED + COPIED_IF_PRESENT:
        if os.path.isfile(os.path.join(exp_dir, name)):
            shutil.copyfile(os.path.join(exp_dir, name), os.path.join(output, name))
    from .separation.separator import _sha256

    card = card.replace("@SHA256@", _sha256(separator_file))
    card_path = os.path.join(output, CARD_FILE)
    with open(card_path, "w", encoding="utf-8") as f:
        f.write(card)
    return card_path


# ------------------------------------------------------------------------------ checks
def _names(values: Union[None, str, Sequence[str]], what: str) -> List[str]:
    if values is None:
        return []
    values = [values] if isinstance(values, str) else list(values)
    if not all(isinstance(v, str) and v.strip() for v in values):
        raise ValueError(f"{what} must be non-empty strings, got {values!r}")
    return [v.strip() for v in values]


def _check_output(exp_dir: str, output: str, force: bool) -> None:
    if os.path.exists(output) and not os.path.isdir(output):
        refuse_overwrite(output, force=force)  # a file: the package's rule for files
        raise ValueError(f"output {output} is a file, not a folder; it is left alone")
    if os.path.isdir(output):
        if os.path.samefile(output, exp_dir):
            # publishing into the experiment would mix the card with the run's own files
            raise ValueError("output must be another folder than the experiment folder")
        if any(os.scandir(output)) and not force:
            raise FileExistsError(
                f"{output} is not empty; pass --force (force=True in Python) to write into it"
            )


def _read_conf(path: str) -> Dict[str, Any]:
    conf = read_yaml(path)
    if not isinstance(conf, dict) or not isinstance(conf.get("data"), dict):
        raise ValueError(f"{path} is not a recipe config written by asteroid-wsas train")
    return conf


def _read_metrics(path: str) -> Dict[str, Any]:
    summary = read_json(path)
    scores = summary.get("metrics") if isinstance(summary, dict) else None
    if not isinstance(scores, dict) or not all(
        isinstance(v, dict) and "mean" in v for v in scores.values()
    ):
        raise ValueError(f"{path} is not a final_metrics.json written by asteroid-wsas evaluate")
    if all(v["mean"] is None for v in scores.values()):
        raise ValueError(f"{path} holds no scores (no test mixture was scored)")
    return summary


def _encoder_named(conf: Dict[str, Any], conf_path: str) -> str:
    """The encoder ``encoder.name`` of conf.yml names, as ``load_encoder`` takes it
    (:func:`~asteroid_wsas.encoders.loading.encoder_named`: a small-encoder file that is
    gone is said so, in the words a separator's loading uses)."""
    from .encoders.loading import encoder_named

    name = encoder_named(conf, conf_path)
    if name is None:
        raise ValueError(f"{conf_path} names no encoder (encoder.name); pass --encoder")
    return name


def _bundle_local_encoder(separator) -> Optional[str]:
    """Clear the name of an encoder read from a local folder, so that ``save_pretrained``
    copies it into the package folder (``encoder/``): a path of this machine would not
    load anywhere else. Returns the local path, or None (hub id or small encoder)."""
    name = separator.encoder_name
    if not name:
        return None
    base = name.partition("?pooling=")[0]
    prefix, colon, rest = base.partition(":")
    if colon and prefix in TEXT_KINDS:
        base = rest
    if not os.path.isdir(base):
        return None
    separator.encoder_name = None
    return base


def _package_infos(model_file: str) -> Dict[str, Any]:
    import torch

    package = torch.load(model_file, map_location="cpu", weights_only=True)
    return dict(package.get("infos") or {}) if isinstance(package, dict) else {}


# ---------------------------------------------------------------------- what the card says
def _conf_datasets(conf: Dict[str, Any]) -> List[str]:
    data = conf["data"]
    names = [str(data.get("dataset") or "unknown")]
    clean = data.get("clean_data")
    if isinstance(clean, dict) and clean.get("dataset") and clean["dataset"] not in names:
        names.append(str(clean["dataset"]))
    return names


def _test_set_name(metrics: Dict[str, Any], conf: Dict[str, Any]) -> str:
    named = metrics.get("test_set")
    if isinstance(named, str) and named:
        return named
    counts = metrics.get("counts") or {}
    dataset = conf["data"].get("dataset") or "unknown"
    mixtures, sources = counts.get("mixtures"), counts.get("sources")
    if mixtures and sources and sources % mixtures == 0:
        # the name `asteroid-wsas prepare` gives the recipe's fixed test set
        return f"{dataset}-{sources // mixtures}mix-test"
    return f"{dataset}-test"


def _test_queries(csv_path: str) -> List[str]:
    """The distinct queries of the test set, in order (the ``query`` column)."""
    seen: Dict[str, None] = {}
    with open(csv_path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row.get("query"):
                seen.setdefault(row["query"], None)
    return list(seen)


def _training_log(exp_dir: str) -> Dict[str, Any]:
    """Steps logged (logs/metrics.csv) and the best checkpoint's step and validation SDR
    (its file name); empty when the folder keeps neither."""
    out: Dict[str, Any] = {}
    log = os.path.join(exp_dir, "logs", "metrics.csv")
    if os.path.isfile(log):
        with open(log, newline="", encoding="utf-8") as f:
            steps = [int(float(r["step"])) for r in csv.DictReader(f) if r.get("step")]
        if steps:
            out["last_logged_step"] = max(steps)
    best = None
    folder = os.path.join(exp_dir, "checkpoints")
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        match = re.search(r"step=(\d+)-val_sdr=(-?\d+(?:\.\d+)?)", name)
        if match and (best is None or float(match.group(2)) > best[1]):
            best = (int(match.group(1)), float(match.group(2)))
    if best is not None:
        out["best_step"], out["best_val_sdr"] = best
    return out


def _model_name(separator, conf: Dict[str, Any], infos: Dict[str, Any], datasets) -> str:
    """Asteroid's upload name: ``<model>_<dataset>_<objective>``."""
    dataset = (datasets or _conf_datasets(conf))[0]
    objective = infos.get("objective") or (conf.get("objective") or {}).get("name") or "model"
    return "_".join([type(separator.model).__name__, str(dataset), str(objective)])


def _tag(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


def _front_matter(
    name: str, license: str, datasets: List[str], test_set: str, tags: List[str], metrics
) -> str:
    """The YAML block the hub reads: tags, license, datasets and the scores (model-index)."""
    from .metrics.bss_eval import LABELS

    results = [
        {"type": key, "name": LABELS.get(key, key), "value": value["mean"]}
        for key, value in metrics["metrics"].items()
        if value.get("mean") is not None
    ]
    task = {"type": "audio-to-audio", "name": "Text-queried audio source separation"}
    dataset = {"type": datasets[0], "name": test_set, "split": "test"}
    meta = {
        "tags": tags,
        "library_name": "asteroid",
        "datasets": datasets,
        "license": license,
        "pipeline_tag": "audio-to-audio",
        "model-index": [
            {"name": name, "results": [{"task": task, "dataset": dataset, "metrics": results}]}
        ],
    }
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"


def _md_code(text: str) -> str:
    return "`" + str(text).replace("`", "'") + "`"


def _json_code(value: Any) -> str:
    return _md_code(json.dumps(value, sort_keys=True))


def _table(rows: List[List[str]], header: List[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def _fmt(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.2f}"


def _tiny_words(encoder) -> Optional[List[str]]:
    """The small encoder's vocabulary (most frequent first), None for another encoder."""
    from .encoders.tiny import SPECIALS, TinyBimodalEncoder

    return list(encoder.vocab[len(SPECIALS) :]) if isinstance(encoder, TinyBimodalEncoder) else None


def _encoder_line(separator, bundled: Optional[str]) -> str:
    """What the card says about the encoder, and where the folder keeps it."""
    enc, words = separator.encoder, _tiny_words(separator.encoder)
    n_params, kind = sum(p.numel() for p in enc.parameters()), type(enc).__name__
    if words is not None:
        return (
            f"- **Query encoder:** the small bimodal encoder ({kind}, {n_params:,} parameters, "
            f"{enc.embed_dim}-d embeddings, a vocabulary of {len(words)} words), trained on "
            "mixtures and their captions only; it is saved inside `separator.pth`."
        )
    where = (
        "copied to `encoder/` in this folder"
        if bundled
        else f"loaded by its name {_md_code(separator.encoder_name)} (downloaded once from "
        "the Hugging Face hub)"
    )
    return f"- **Query encoder:** {kind} ({n_params:,} parameters, frozen), {where}."


def _model_args(model) -> str:
    """The ``get_model_args()`` table, with the blank lines that open it; "" without."""
    args = model.get_model_args() if hasattr(model, "get_model_args") else {}
    if not args:
        return ""
    rows = [[_md_code(k), _md_code(json.dumps(v))] for k, v in args.items()]
    return "\n\nModel arguments (`get_model_args()`):\n\n" + _table(rows, ["argument", "value"])


def _objective_line(conf: Dict[str, Any], objective: str) -> str:
    from .engine.config import objective_args

    line = f"- **Objective:** {_md_code(objective)}"
    if conf.get("method"):
        line += f" (method {_md_code(conf['method'])}, a row of the paper's tables)"
    try:
        obj_args = objective_args(conf) if isinstance(conf.get("objective"), dict) else {}
    except (KeyError, TypeError):
        obj_args = {}
    return line + (f", arguments {_json_code(obj_args)}" if obj_args else "") + "."


def _data_line(data: Dict[str, Any], objective: str, rate: int) -> str:
    root = data.get("root")
    line = f"- **Data:** {_md_code(data.get('dataset'))}"
    if root:
        line += f" (root folder {_md_code(os.path.basename(os.path.normpath(root)))})"
    line += (
        f", {data.get('n_sources', 2)}-source training mixtures of "
        f"{data.get('train_segment') or data.get('segment', '?')} s at "
        f"{data.get('sample_rate', rate)} Hz"
    )
    for key in ("clean_fraction", "supervised_fraction"):  # clean_fraction: semi's alone
        if key in data and (key == "supervised_fraction" or objective == "semi"):
            line += f", {key} {data[key]}"
    clean = data.get("clean_data")
    if isinstance(clean, dict) and clean.get("dataset"):
        line += f", clean single sources from {_md_code(clean['dataset'])}"
    return line + "."


def _training(conf: Dict[str, Any], objective: str, rate: int, log: Dict[str, Any]) -> str:
    """The Training section's list: objective, data, budget, optimiser, checkpoint kept."""
    training, optim = conf.get("training") or {}, conf.get("optim") or {}
    budget = training.get("max_steps")
    lines = [
        _objective_line(conf, objective),
        _data_line(conf["data"], objective, rate),
        f"- **Budget:** {budget if budget not in (None, -1) else 'no'} steps, batch size "
        f"{training.get('batch_size', '?')}"
        + (f", precision {_md_code(training['precision'])}" if training.get("precision") else "")
        + (f", seed {training['seed']}" if "seed" in training else "")
        + ".",
    ]
    if optim:
        sched = conf.get("scheduler") or {}
        lines.append(
            f"- **Optimiser:** {_json_code(optim)}"
            + (f", scheduler {_json_code(sched)}" if sched else "")
            + "."
        )
    if "best_step" in log:
        lines.append(
            f"- **Kept:** the checkpoint of step {log['best_step']}, best validation "
            f"SDR ({log['best_val_sdr']:.2f} dB)."
        )
    if "last_logged_step" in log:
        lines.append(f"- **Last logged step:** {log['last_logged_step']}.")
    return "\n".join(lines)


def _scores(metrics: Dict[str, Any]) -> Dict[str, str]:
    """The Results section: the counts and the table of scores."""
    from .metrics.bss_eval import LABELS

    counts = metrics.get("counts") or {}
    skipped = counts.get("sources_skipped")
    rows = [
        [LABELS.get(k, k), _fmt(v.get("mean")), _fmt(v.get("std")), _fmt(v.get("median"))]
        for k, v in metrics["metrics"].items()
    ]
    return {
        "mixtures": counts.get("mixtures", "?"),
        "scored": counts.get("sources_scored", "?"),
        "skipped": f" ({skipped} with a near-silent reference skipped)" if skipped else "",
        "scores": _table(rows, ["metric", "mean", "std", "median"]),
    }


def _query_lines(separator, intended: List[str], test_queries: List[str]) -> List[str]:
    enc, words = separator.encoder, _tiny_words(separator.encoder)
    lines: List[str] = []
    if separator.learned_queries:
        n = len(separator.model.learned_queries)
        lines.append(
            f"This model was trained with MixIT: it gives {n} fixed outputs, and each text "
            "query picks the output the encoder finds closest to it (negative queries are not "
            "available)."
        )
    if words is not None:
        shown = ", ".join(words[:MAX_WORDS])
        more = f", ... and {len(words) - MAX_WORDS} more" if len(words) > MAX_WORDS else ""
        lines += [
            "",
            "Queries are short English phrases made of the words of the small encoder's "
            f"vocabulary ({len(words)} words, most frequent first); any other word is read as "
            "`<unk>` and does not steer the separation:",
            "",
            f"> {shown}{more}",
        ]
    else:
        media = "free text or an image (CLIP's two towers)" if enc.has_image else "free text"
        lines += [
            "",
            f"Queries are {media}; short phrases that name one sound, like those of the "
            "training data, work best.",
        ]
    if intended:
        lines += ["", "Queries the publisher intends it for:", ""]
        lines += [f"- {_md_code(q)}" for q in intended]
    if test_queries:
        shown_q = ", ".join(_md_code(q) for q in test_queries[:MAX_TEST_QUERIES])
        more = len(test_queries) - MAX_TEST_QUERIES
        lines += [
            "",
            f"The test set asked for {len(test_queries)} distinct queries: {shown_q}"
            + (f" and {more} more (all in `all_metrics.csv`)." if more > 0 else "."),
        ]
    return lines


def _usage(separator, intended: List[str], test_queries: List[str]) -> Dict[str, str]:
    """The example queries of How to use, as Python and as command-line arguments."""
    words = _tiny_words(separator.encoder)
    queries = (intended or test_queries)[:2]
    if not queries and words:  # words the small encoder knows
        queries = [f"the sound of {w}" for w in words[:2]]
    queries = queries or ["a dog barks", "a man speaks"]
    return {
        "queries_py": ", ".join(json.dumps(q) for q in queries),
        "queries_cli": " ".join(f"-q {json.dumps(q)}" for q in queries),
    }


def _caveats(separator, objective: str) -> str:
    """The Limitations that hold for this objective and encoder, one line each."""
    lines = []
    if objective in ("weak", "semi", "weak_sup"):
        lines.append(
            "- Trained without (or with few) clean sources: the estimates are only as good as "
            "the encoder's audio-text similarity, and can leak other sources."
        )
    if "Tiny" in type(separator.encoder).__name__:
        lines.append(
            "- The small encoder knows only its vocabulary and the phrasing of its training "
            "captions; paraphrases and unknown words are not understood."
        )
    return "".join(line + "\n" for line in lines)


def _more_files(extras: List[str], bundled: Optional[str]) -> str:
    """The Files table's rows for the files a folder may lack, each on a new line."""
    rows = [(name, what) for name, (_, what) in OPTIONAL_FILES.items() if name in extras]
    if bundled:
        rows.append(("encoder/", "the query encoder (it was read from a local folder)"))
    return "".join(f"\n| `{name}` | {what} |" for name, what in rows)


def _card_tags(conf: Dict[str, Any], objective: str, model) -> List[str]:
    tags = list(BASE_TAGS) + [_tag(objective), type(model).__name__]
    if conf.get("method"):
        tags.append(_tag(str(conf["method"]).partition(":")[0]))
    return list(dict.fromkeys(t for t in tags if t))


def _model_card(
    separator,
    conf: Dict[str, Any],
    metrics: Dict[str, Any],
    *,
    name: str,
    folder: str,
    license: str,
    datasets: List[str],
    test_set: str,
    intended: List[str],
    test_queries: List[str],
    objective: Optional[str],
    training_log: Dict[str, Any],
    bundled: Optional[str],
    extras: List[str],
) -> str:
    """The README.md text (templates/model_card.md filled in); ``@SHA256@`` stands for the
    checksum of the file written."""
    from .serialization import software_versions

    data, model = conf["data"], separator.model
    objective = objective or "unknown"
    rate = int(separator.sample_rate)
    versions = software_versions().items()
    context = {
        "front_matter": _front_matter(
            name, license, datasets, test_set, _card_tags(conf, objective, model), metrics
        ),
        "name": name,
        "paper_title": PAPER_TITLE,
        "architecture": type(model).__name__,
        "n_params": f"{sum(p.numel() for p in model.parameters()):,}",
        "rate": rate,
        "encoder": _encoder_line(separator, bundled),
        "model_args": _model_args(model),
        "training": _training(conf, objective, rate, training_log),
        "conf_yaml": yaml.safe_dump(conf, sort_keys=False, allow_unicode=True).rstrip(),
        "test_set": _md_code(test_set),
        **_scores(metrics),
        "extras": "".join(said for n, (said, _) in OPTIONAL_FILES.items() if n in extras),
        "datasets": ", ".join(_md_code(d) for d in datasets),
        "queries": "\n".join(_query_lines(separator, intended, test_queries)),
        "bundled": ": the encoder in `encoder/` comes with `separator.pth`" if bundled else "",
        "folder": folder,
        **_usage(separator, intended, test_queries),
        "nyquist": rate // 2,
        "segment": data.get("train_segment") or data.get("segment", "?"),
        "n_sources": data.get("n_sources", 2),
        "dataset": _md_code(data.get("dataset")),
        "caveats": _caveats(separator, objective),
        "license": _md_code(license),
        "files": _more_files(extras, bundled),
        "versions": ", ".join(f"{k.replace('_version', '')} {v}" for k, v in versions),
        "bibtex": PAPER_BIBTEX,
    }
    template = resources.files(__package__).joinpath(CARD_TEMPLATE).read_text(encoding="utf-8")
    return string.Template(template).substitute(context)
