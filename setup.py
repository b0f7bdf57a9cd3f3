"""pip install -e .  — dld_d2, a Detectron2 extension for Dynamic Low-Resolution Distillation."""
from pathlib import Path

from setuptools import find_packages, setup


def _requirements():
    lines = Path(__file__).with_name("requirements.txt").read_text().splitlines()
    # pytest and friends are test tools, not runtime dependencies.
    return [
        ln.strip()
        for ln in lines
        if ln.strip() and not ln.startswith("#") and not ln.startswith("pytest")
    ]


setup(
    name="dld_d2",
    version="0.1.0",
    description="Dynamic Low-Resolution Distillation for end-to-end text spotting, on Detectron2",
    long_description=Path(__file__).with_name("README.md").read_text(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["dld_d2", "dld_d2.*"]),
    package_data={"dld_d2": ["data/*.txt"]},
    python_requires=">=3.9",
    # detectron2 is deliberately absent: it is not on PyPI and is installed from its source.
    install_requires=_requirements(),
)
