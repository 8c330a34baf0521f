"""Install Bach2.0: the package ``bach2`` lives in ``Source_Code/``; ``bach2`` is its command."""
import pathlib
import re

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent
VERSION = re.search(r"__version__ = '([^']+)'", (HERE / 'Source_Code/bach2/__init__.py').read_text()).group(1)
REQUIREMENTS = [line.split('#')[0].strip() for line in (HERE / 'requirements.txt').read_text().splitlines()
                if line.split('#')[0].strip()]

setup(
    name='bach2',
    version=VERSION,
    description="Bach2.0: learn Bach's counterpoint from MIDI and write new fugues",
    long_description=(HERE / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    package_dir={'': 'Source_Code'},
    packages=find_packages('Source_Code'),
    package_data={'bach2.models': ['shipped/*', 'shipped/down/*', 'shipped/voices/*', 'shipped/chorales/*'], 'bach2.app': ['studio.html']},   # trained models, the studio's page
    python_requires='>=3.10',
    install_requires=REQUIREMENTS,
    extras_require={
        'test': ['pytest>=7', 'hypothesis>=6'],
        'bench': ['pretty_midi>=0.2.10', 'torch==2.13.0'],
    },
    entry_points={'console_scripts': ['bach2 = bach2.app.cli:main']},
)
