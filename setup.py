from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="clientapi",
    version="0.1.0",
    description="Python client for EventStore's HTTP API, with an embedded EventStore-compatible node",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=find_packages(include=["clientapi", "clientapi.*"]),
    package_data={"clientapi": ["py.typed"], "clientapi.server.projections": ["*.js"]},
    install_requires=["tornado>=6.1"],
    extras_require={
        # The JavaScript engine for user projections (V8, embedded): heavy, so optional.
        "projections": ["mini-racer>=0.12"],
        # tornado's curl client keeps connections alive (its simple client does not); used when present.
        "curl": ["pycurl>=7.43"],
        "test": ["pytest>=7", "pytest-tornado>=0.8", "hypothesis>=6", "mini-racer>=0.12", "pycurl>=7.43"],
    },
    entry_points={
        "pytest11": ["clientapi = clientapi.pytest_plugin"],
        "console_scripts": ["clientapi = clientapi.cli:main"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Framework :: Pytest",
        "Topic :: Database",
    ],
)
