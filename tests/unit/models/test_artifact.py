"""Model artifacts: verified before loading (every file's sha256, the manifest's shape), and
refused naming the file and the mismatch."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from quantbot.models.artifact import (
    MANIFEST,
    ModelVerificationError,
    load_verified,
    sha256,
    write_artifact,
)

ABOUT = {
    "kind": "logistic_regression",
    "created": "2013-03-01T00:00:00.000000Z",
    "training_data": {"from": "2000-03-01", "to": "2013-03-01", "files": []},
    "features": ["ret_1"],
    "code": {"package_version": "0.1.0", "git_commit": None},
}


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    out = tmp_path / "art"
    write_artifact(out, {"model.json": b'{"w": [1, 2, 3]}', "extra.bin": b"\x00\x01"}, ABOUT)
    return out


def flip_byte(path: Path, at: int = 3) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_written_artifact_verifies_and_hands_back_the_hashed_bytes(artifact: Path) -> None:
    verified = load_verified(artifact)
    assert verified.files == {"model.json": b'{"w": [1, 2, 3]}', "extra.bin": b"\x00\x01"}
    manifest = verified.manifest
    assert manifest["files"]["model.json"] == sha256(b'{"w": [1, 2, 3]}')
    assert manifest["created"] == ABOUT["created"] and manifest["format"] == 1
    assert verified.manifest_sha256 == sha256((artifact / MANIFEST).read_bytes())


@pytest.mark.parametrize("name", ["model.json", "extra.bin"])
def test_one_flipped_byte_in_any_file_is_refused_naming_it(artifact: Path, name: str) -> None:
    flip_byte(artifact / name, at=1)
    with pytest.raises(ModelVerificationError) as caught:
        load_verified(artifact)
    assert caught.value.path == artifact / name
    assert "sha256 mismatch" in str(caught.value) and str(artifact / name) in str(caught.value)


def test_a_missing_file_is_refused(artifact: Path) -> None:
    (artifact / "extra.bin").unlink()
    with pytest.raises(ModelVerificationError, match=r"extra\.bin: cannot be read"):
        load_verified(artifact)


def _rewrite(artifact: Path, **changes: object) -> None:
    path = artifact / MANIFEST
    manifest = orjson.loads(path.read_bytes())
    manifest.update(changes)
    path.write_bytes(orjson.dumps(manifest))


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"created": None}, "'created' missing"),
        ({"format": 2}, "format 2, expected 1"),
        ({"files": {}}, "lists no file"),
        ({"files": {"../x": "0" * 64}}, "not a plain file name"),
        ({"files": {"model.json": "abc"}}, "not a sha256 hex digest"),
        ({"version": "0000000000000000"}, "version does not match"),
    ],
)
def test_a_manifest_of_the_wrong_shape_is_refused(
    artifact: Path, changes: dict, problem: str
) -> None:
    _rewrite(artifact, **changes)
    with pytest.raises(ModelVerificationError, match=problem):
        load_verified(artifact)


def test_a_manifest_that_is_not_json_is_refused(artifact: Path) -> None:
    flip_byte(artifact / MANIFEST, at=0)
    with pytest.raises(ModelVerificationError, match=r"manifest\.json: is not JSON"):
        load_verified(artifact)
