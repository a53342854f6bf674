"""Only what pyproject.toml cannot say: compose-templates/ (at the repository
root, where people look for it) ships inside the wheel as devstack/compose_templates/."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["devstack", "devstack.*"]) + ["devstack.compose_templates"],
    package_dir={"devstack.compose_templates": "compose-templates"},
)
