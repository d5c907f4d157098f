"""asteroid-wsas: weakly-supervised text-queried audio separation on top of Asteroid."""

import re
from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent
version = re.search(
    r'^__version__ = "([^"]+)"', (here / "asteroid_wsas" / "version.py").read_text(), re.M
).group(1)

setup(
    name="asteroid-wsas",
    version=version,
    description=(
        "Text-queried audio separation trained without clean audio "
        "(Mahmud et al., ICLR 2024), as an Asteroid extension"
    ),
    long_description=(here / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["asteroid_wsas", "asteroid_wsas.*"]),
    py_modules=["asteroid_wsas_cli"],  # the command's light launcher
    # the web app's example mixtures (scripts/make_webapp_examples.py) and the model card's
    # template (asteroid-wsas publish)
    package_data={
        "asteroid_wsas": ["webapp_examples/*.wav", "webapp_examples/*.txt", "templates/*.md"]
    },
    install_requires=[
        # torch and torchaudio must be a matching pair (asteroid imports torchaudio through
        # torch_stoi). Tested: 2.6.0 (the oldest) and 2.11.0 (CI, constraints.txt); an
        # environment that has a pair in this range keeps it. torchaudio 2.11.1 asks for
        # torch>=2.11 but loads only with a newer torch than 2.11: excluded.
        "torch>=2.6,<2.12",
        "torchaudio>=2.6,<2.12,!=2.11.1",
        "asteroid==0.7.0",
        "pytorch-lightning>=2.0,<3",
        "soundfile>=0.12",
        "transformers>=4.40",
        "numpy",
        "pyyaml",
        "tqdm",
        "tokenizers",
        # BSS-Eval v3 metrics; its numpy backend predates numpy 2, we call the torch one.
        "fast_bss_eval>=0.1.4",
        "matplotlib>=3.9",  # boxplot(tick_labels=...)
        "scipy",  # Student-t intervals of comparisons over seeds
        "pillow>=9",  # image queries and extracted video frames
        # renders sampled instruments for the offline data (needs the system libfluidsynth
        # and a GM soundfont: apt-get install fluidsynth fluid-soundfont-gm espeak-ng)
        "pyfluidsynth>=1.3",
        # asteroid 0.7.0 pins torchmetrics<=0.11.4, which imports pkg_resources.
        "setuptools<82",
        # asteroid's hub utilities import requests without declaring it.
        "requests",
    ],
    extras_require={
        # mir_eval: the reference BSS-Eval the tests cross-check against (0.9 drops it).
        # pytest-xdist: the suite runs on every core (pyproject's addopts: -n auto).
        "dev": [
            "pytest>=7",
            "pytest-xdist>=3.5",  # --maxschedchunk
            "black>=24",
            "mkdocs>=1.5",
            "mir_eval>=0.7,<0.9",
            "av>=12",  # the video-frame tests write and decode mp4
            "gradio>=6,<7",  # the web app (asteroid-wsas serve)
            # drives the OS's chromium (apt-get install chromium chromium-driver) in the
            # web app's browser test
            "selenium>=4.20",
            "onnx>=1.23",
            "onnxruntime>=1.32",  # the export tests and docs example
        ],
        "docs": ["mkdocs>=1.5"],
        # asteroid-wsas export: ONNX graphs run by onnxruntime (docs/export.md)
        "export": ["onnx>=1.23", "onnxruntime>=1.32"],
        # the web app: asteroid-wsas serve (docs/web_app.md)
        "app": ["gradio>=6,<7"],
        # PyAV: decoding video files for image-queried methods (extracted frames need none).
        "video": ["av>=12"],
        # LAION's own package, only for converting its .pt checkpoints (not needed to run).
        "laion": ["laion-clap"],
    },
    entry_points={"console_scripts": ["asteroid-wsas=asteroid_wsas_cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: MIT License",
        "Topic :: Multimedia :: Sound/Audio :: Analysis",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
