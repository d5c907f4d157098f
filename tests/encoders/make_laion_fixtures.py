"""Regenerate tests/encoders/data/laion_*.json: key, shape and dtype of LAION-CLAP models.

Needs the optional ``laion_clap`` package (``pip install -e ".[laion]"`` in a separate
environment: it pins numpy<2). Its hub downloads are replaced by local objects, so this
runs offline:

    python tests/encoders/make_laion_fixtures.py
"""

import json
from pathlib import Path

from tests.encoders.laion_offline import build_laion_clap, laion_version

OUT = Path(__file__).parent / "data"


def main() -> None:
    for amodel, fusion in [("HTSAT-base", False), ("HTSAT-tiny", True)]:
        module, _ = build_laion_clap(amodel, fusion, text_layers=2)
        rows = [[k, list(v.shape), str(v.dtype)[6:]] for k, v in module.model.state_dict().items()]
        # Checkpoints written with older transformers also hold this buffer.
        rows.append(["text_branch.embeddings.position_ids", [1, 514], "int64"])
        name = f"laion_{amodel.lower().replace('-', '_')}_{'fusion' if fusion else 'unfused'}.json"
        source = (
            f"laion_clap {laion_version()} CLAP_Module(enable_fusion={fusion}, amodel={amodel!r}, "
            "tmodel='roberta'), RoBERTa-base layout with 2 of its 12 layers"
        )
        (OUT / name).write_text(json.dumps({"source": source, "keys": rows}, separators=(",", ":")))
        print(f"{name}: {len(rows)} keys")


if __name__ == "__main__":
    main()
