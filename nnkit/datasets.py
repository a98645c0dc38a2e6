"""The course's data set: one setting in ``nbgrader_config.py``, read by every entry point.

::

    c.NnkitData.dataset = "digits"   # or "mnist", "cifar10", "california", "mnist+california"
    c.NnkitData.data_dir = ""        # the downloaded sets ("": $NNKIT_DATA or ~/.nnkit/data)

The setting names at most one classification set (``digits`` bundled, ``mnist``,
``cifar10``) and one regression set (``diabetes`` bundled, ``california``); what it does not
name stays bundled, so the default grades offline. :func:`load_setting` reads it;
``nnkit autograde``, ``nnkit grade`` and the Gradescope zip carry it in every grading task
(:class:`DataSetting`, plain data), and :func:`nnkit.batch.task.run_task` hands it to

* the notebook sandbox (:mod:`nnkit.execution`): ``$NNKIT_DATASET`` (what
  ``nnlib.data.selected_dataset`` reads) and ``$NNKIT_DATA``, and read-only the *public* files
  of the selected downloaded sets (:meth:`DataSetting.sandbox_files`: never CIFAR-10's
  ``test_batch`` or MNIST's ``t10k`` files, which are the held-out split; the bundled sets'
  held-out rows live in ``nnkit/data/``, which the sandbox never shows);
* the engine (:func:`nnkit.grade.grade`): which saved models an assignment's notebooks are
  graded on (:func:`nnkit.grade.assignment_apis`) and where the threshold tests find the
  held-out split (``grading_tests/test_thresholds.py``).

A host's own ``$NNKIT_DATASET`` is never read by the grader: only the course config decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nnlib import data

#: Section of ``nbgrader_config.py`` that holds the setting.
SECTION = "NnkitData"


@dataclass(frozen=True)
class DataSetting:
    """The data sets of a course (see the module documentation)."""

    classification: str = "digits"
    regression: str = "diabetes"
    data_dir: str = ""  # host directory of the downloaded sets; "" = nnlib's default

    def __post_init__(self) -> None:
        if self.classification not in data.CLASSIFICATION:
            raise ValueError(
                f"classification data set {self.classification!r} is not one of "
                f"{data.CLASSIFICATION}"
            )
        if self.regression not in data.REGRESSION:
            raise ValueError(
                f"regression data set {self.regression!r} is not one of {data.REGRESSION}"
            )

    @classmethod
    def parse(
        cls, dataset: str | list[str] | tuple[str, ...] | None, data_dir: str = ""
    ) -> DataSetting:
        """From the config's ``dataset`` value (``nnlib.data.parse_selection``)."""
        chosen = data.parse_selection(dataset)
        return cls(chosen["classification"], chosen["regression"], str(data_dir or ""))

    @property
    def names(self) -> tuple[str, str]:
        """(classification set, regression set)."""
        return self.classification, self.regression

    @property
    def value(self) -> str:
        """The setting as one string, as ``$NNKIT_DATASET`` carries it into the sandbox: the
        non-bundled names joined with ``+`` (``"digits"`` when both are bundled)."""
        picked = [n for n in self.names if n not in data.BUNDLED]
        return "+".join(picked) if picked else "digits"

    @property
    def downloaded(self) -> tuple[str, ...]:
        """The selected sets that are not bundled (they must be on the grading machine)."""
        return tuple(n for n in self.names if n not in data.BUNDLED)

    def root(self) -> Path:
        """The host's data directory (``nnlib.data.resolve_data_dir``)."""
        return data.resolve_data_dir(self.data_dir or None).resolve()

    def sandbox_files(self) -> list[Path]:
        """Host files the notebook sandbox may read: the public part of every selected
        downloaded set, as ``nnlib.data.load_dataset`` reads it (the held-out files never);
        only those that exist (a missing set fails in the notebook with the download command).
        """
        root = self.root()
        out: list[Path] = []
        for name in self.downloaded:
            if name == "cifar10":
                folder = root if (root / "data_batch_1").exists() else root / data.CIFAR_DIR
                files = [folder / f"data_batch_{i}" for i in range(1, 6)]
                files.append(folder / "batches.meta")
            elif name == "mnist":
                folder = root / data.MNIST_DIR if (root / data.MNIST_DIR).is_dir() else root
                files = []
                for key in ("train_images", "train_labels"):
                    stem = folder / data.MNIST_FILES[key]
                    files += [stem, stem.with_name(stem.name + ".gz")]
            else:  # california: one file; its held-out rows are a fixed mask of it
                folder = root / data.CALIFORNIA_DIR
                folder = folder if folder.is_dir() else root
                files = [folder / "cal_housing.data", folder / "cal_housing.domain"]
            out += [f for f in files if f.is_file() and not f.is_symlink()]
        return out

    def sandbox_env(self) -> dict[str, str]:
        """What the notebook sandbox's environment says about the data."""
        return {data.SELECTION_ENV: self.value, "NNKIT_DATA": str(self.root())}

    def missing(self, names: tuple[str, ...] | None = None) -> list[str]:
        """One line per selected downloaded set (or of ``names``) that is not on this machine,
        with the command that downloads it; empty when everything is there."""
        from nnkit.heldout import load_heldout

        out = []
        for name in self.downloaded if names is None else names:
            try:
                load_heldout(name, self.root())
            except (OSError, ValueError) as err:
                out.append(
                    f"{name}: {str(err).splitlines()[0]} (python -m nnlib.data download "
                    f"{name} --dest {self.root()})"
                )
        return out


def load_setting(course_root: Path | str | None) -> DataSetting:
    """The ``NnkitData`` section of ``<course_root>/nbgrader_config.py`` (the bundled default
    when there is no config or no section)."""
    if course_root is None or not (Path(course_root) / "nbgrader_config.py").is_file():
        return DataSetting()
    from traitlets.config.loader import PyFileConfigLoader

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(course_root)).load_config()
    if SECTION not in cfg:
        return DataSetting()
    sec = cfg[SECTION]
    try:
        return DataSetting.parse(sec.get("dataset", None), str(sec.get("data_dir", "") or ""))
    except ValueError as err:
        raise ValueError(f"nbgrader_config.py: c.{SECTION}.dataset: {err}") from None
