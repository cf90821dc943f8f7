"""The compiled text walk (linkcheck/_textwalk.pyx), built against the headers lxml ships."""

import lxml
from Cython.Build import cythonize
from setuptools import Extension, setup

setup(ext_modules=cythonize([Extension("linkcheck._textwalk", ["linkcheck/_textwalk.pyx"],
                                       include_dirs=lxml.get_include())]))
