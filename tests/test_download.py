"""Downloads from the official sources, against a local HTTP server that serves small archives in each official
format: the real fetch code runs (URL building, streaming, unpacking, verification), and so do its failures."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from official_archives import Handler, archives

from course_utils import data
from course_utils import download as download_module
from course_utils.download import DownloadError, download
from course_utils.tensors import load_mnist

NAMES = ("MNIST", "FashionMNIST", "caltech101", "dogs-vs-cats")


@pytest.fixture(scope="module")
def server():
    """A local HTTP server on 127.0.0.1 (a free port): base URL, the idx pins, Caltech-101's tree pin."""
    served, pins, tree_pin = archives()
    handler = type("Handler", (Handler,), {"served": served})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", pins, tree_pin
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def official(server, tmp_path, monkeypatch):
    """No mirror, an empty data folder, every COURSE_URL_* on the local server, the datasets pinned to its files."""
    base, pins, tree_pin = server
    monkeypatch.delenv("COURSE_DATA_MIRROR", raising=False)
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "data"))
    urls = {
        "MNIST": f"{base}/mnist/",
        "FashionMNIST": f"{base}/fashion",  # no trailing slash: the file names are still appended as a path
        "caltech101": f"{base}/caltech/caltech-101.zip",
        "dogs-vs-cats": f"{base}/pets/kagglecatsanddogs_5340.zip",
    }
    for name, url in urls.items():
        monkeypatch.setenv(data.DATASETS[name].url_variable, url)
    small = {"MNIST": {"files": pins["mnist"]}, "FashionMNIST": {"files": pins["fashion"]}}
    small |= {"caltech101": {"tree_sha256": tree_pin}, "dogs-vs-cats": {"subset": 3}}
    for name, changes in small.items():
        monkeypatch.setitem(data.DATASETS, name, dataclasses.replace(data.DATASETS[name], **changes))
    return base


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.name.startswith(".") or p.suffix == ".part")


# --------------------------------------------------------------------------- tests
def test_url_variables_name_each_dataset():
    assert [data.DATASETS[n].url_variable for n in NAMES] == [
        "COURSE_URL_MNIST",
        "COURSE_URL_FASHIONMNIST",
        "COURSE_URL_CALTECH101",
        "COURSE_URL_DOGS_VS_CATS",
    ]


def test_fetch_with_no_mirror_downloads_unpacks_and_verifies_each(official, tmp_path, capsys):
    done = data.fetch(list(NAMES))
    assert all("fetched from the download http://127.0.0.1" in line for line in done), done
    root = tmp_path / "data"
    for name in NAMES:
        assert data.require(name) == root / data.DATASETS[name].folder
    assert sorted(p.name for p in (root / "MNIST" / "raw").iterdir()) == sorted(data.DATASETS["MNIST"].files)
    fashion = load_mnist("FashionMNIST", split="test", normalize=False)
    assert fashion.tensors[0].shape == (6, 1, 28, 28)
    classes = root / "caltech101" / "101_ObjectCategories"
    assert sorted(p.name for p in classes.iterdir()) == ["BACKGROUND_Google", "accordion", "rocket"]
    assert not list((root / "caltech101").glob("*.zip")), "no archive is kept"
    assert not list(root.rglob("*.tar.gz")), "no archive is kept"
    # Dogs vs. Cats: the first 3 readable photos of each class, in the course's flat layout
    train = root / "dogs-vs-cats" / "train"
    assert sorted(p.name for p in train.iterdir()) == [f"cat.{i}.jpg" for i in (0, 2, 3)] + [
        f"dog.{i}.jpg" for i in (1, 2, 3)
    ]
    out = capsys.readouterr().out
    assert "dropped 2 unreadable file(s)" in out
    assert re.search(r"PetImages/Cat/1\.jpg \(\w+Error: ", out), "the photo cut off inside its data, and why"
    assert "PetImages/Dog/0.jpg (zero bytes)" in out
    record = (root / "dogs-vs-cats.download.json").read_text()
    assert '"sha256"' in record
    assert '"manifest_sha256"' in record
    assert _leftovers(root) == []
    assert all("present and verified" in line for line in data.fetch(list(NAMES)))


def test_a_downloaded_subset_is_accepted_only_while_its_manifest_matches_its_files(official, tmp_path):
    data.fetch_one("dogs-vs-cats")
    photo = tmp_path / "data" / "dogs-vs-cats" / "train" / "cat.0.jpg"
    photo.write_bytes(photo.read_bytes()[:-10])
    with pytest.raises(data.DatasetError, match=f"wrong content \\(sha256\\) in {re.escape(str(photo))}"):
        data.require("dogs-vs-cats")
    sums = tmp_path / "data" / "dogs-vs-cats" / "SHA256SUMS"
    sums.write_text(data.tree_manifest(sums.parent / "train", "train"))  # a manifest rewritten to fit: refused
    assert data.problems(data.DATASETS["dogs-vs-cats"]) == [f"missing or unexpected {sums}"]
    assert "fetched from the download" in data.fetch_one("dogs-vs-cats")
    assert data.problems(data.DATASETS["dogs-vs-cats"]) == []


@pytest.mark.parametrize("mode", ["cut", "short"])
def test_a_download_cut_off_or_a_truncated_archive_leaves_nothing_and_the_next_fetch_starts_clean(
    official, tmp_path, monkeypatch, mode
):
    monkeypatch.setenv("COURSE_URL_CALTECH101", f"{official}/{mode}/caltech/caltech-101.zip")
    with pytest.raises(data.DatasetError) as err:
        data.fetch_one("caltech101")
    said = {"cut": "broke off after", "short": "BadZipFile"}[mode]
    assert said in str(err.value)
    assert "Nothing was written" in str(err.value)
    root = tmp_path / "data"
    assert not (root / "caltech101").exists()
    assert _leftovers(root) == []
    monkeypatch.setenv("COURSE_URL_CALTECH101", f"{official}/caltech/caltech-101.zip")
    assert "fetched from the download" in data.fetch_one("caltech101")


@pytest.mark.parametrize(("folder", "member"), [("climbs", "../../outside.txt"), ("links", "rocket/a.jpg")])
def test_an_archive_member_outside_its_folder_or_a_link_is_refused(official, tmp_path, monkeypatch, folder, member):
    monkeypatch.setenv("COURSE_URL_CALTECH101", f"{official}/{folder}/caltech-101.zip")
    with pytest.raises(data.DatasetError, match=f"'101_ObjectCategories/{re.escape(member)}', which is not a plain"):
        data.fetch_one("caltech101")
    root = tmp_path / "data"
    assert not (tmp_path / "outside.txt").exists()
    assert not (root / "caltech101").exists()
    assert _leftovers(root) == []


def test_a_cut_off_idx_file_is_not_written(official, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_URL_MNIST", f"{official}/cut/mnist/")
    with pytest.raises(data.DatasetError, match="broke off after"):
        data.fetch_one("MNIST")
    assert not (tmp_path / "data" / "MNIST" / "raw").exists()
    assert _leftovers(tmp_path / "data") == []


def test_a_wrong_checksum_is_refused_with_both_sums(official, tmp_path):
    url = f"{official}/mnist/t10k-labels-idx1-ubyte.gz"
    found = download(url, tmp_path / "right.gz")
    assert found == hashlib.sha256((tmp_path / "right.gz").read_bytes()).hexdigest()
    with pytest.raises(DownloadError) as err:
        download(url, tmp_path / "wrong.gz", expected_sha256="0" * 64)
    assert f"sha256 {found}, expected {'0' * 64}" in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["right.gz"]


def test_an_archive_unlike_the_one_first_seen_is_refused(official, tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    first = '{"archive": {"url": "x", "bytes": 123, "sha256": "%s", "first_seen": "2026-01-01T00:00:00Z"}}'
    (root / "dogs-vs-cats.download.json").write_text(first % ("a" * 64))
    with pytest.raises(data.DatasetError) as err:
        data.fetch_one("dogs-vs-cats")
    assert re.search(r"sha256 [0-9a-f]{64} \([\d,]+ bytes\), expected a{64} \(123 bytes\)", str(err.value))
    assert not (root / "dogs-vs-cats").exists()


def test_a_server_that_stalls_fails_within_the_timeout(official, tmp_path, monkeypatch):
    monkeypatch.setattr(download_module, "NETWORK_TIMEOUT", 1.0)
    monkeypatch.setenv("COURSE_URL_FASHIONMNIST", f"{official}/stall/fashion/")
    start = time.perf_counter()
    with pytest.raises(data.DatasetError, match="stopped sending for 1 s"):
        data.fetch_one("FashionMNIST")
    assert time.perf_counter() - start < 10
    assert _leftovers(tmp_path / "data") == []


def test_a_terminal_shows_a_progress_bar_with_sizes(official, tmp_path, monkeypatch, capsys):
    url = f"{official}/caltech/caltech-101.zip"
    monkeypatch.setenv("COURSE_BATCH", "1")
    download(url, tmp_path / "quiet.zip", desc="caltech-101.zip")
    assert capsys.readouterr() == ("", "")
    monkeypatch.delenv("COURSE_BATCH")
    download(url, tmp_path / "shown.zip", desc="caltech-101.zip")
    err = capsys.readouterr().err
    assert "caltech-101.zip" in err
    assert re.search(r"\d+(\.\d+)?kB/\d+(\.\d+)?kB", err), err


def test_keep_going_names_what_is_missing_and_which_notebooks_need_it(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("COURSE_DATA_MIRROR", raising=False)
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "data"))
    for name in NAMES:  # nothing listens on port 9 of this machine: refused at once
        monkeypatch.setenv(data.DATASETS[name].url_variable, "http://127.0.0.1:9/x.zip")
    assert data.main(["fetch", "--keep-going", *NAMES]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 4, lines
    assert all(line.startswith("warning: ") for line in lines), lines
    needs = {"MNIST": "00, 04", "FashionMNIST": "00, 01, 02, 03", "caltech101": "00, 06", "dogs-vs-cats": "00, 05"}
    for line, name in zip(lines, NAMES, strict=True):
        assert f"{name}: not available" in line
        assert f"notebook(s) {needs[name]} need it" in line
        assert "COURSE_DATA_MIRROR" in line
        assert data.DATASETS[name].url_variable in line
    assert data.main(["fetch", "MNIST"]) == 1, "without --keep-going a missing dataset is an error"
    assert "Could not fetch MNIST" in capsys.readouterr().err
