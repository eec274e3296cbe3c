"""Publishing to a real OCI registry (Debian docker-registry on 127.0.0.1)."""

from __future__ import annotations

import base64
import json

import pytest

from chartgen.errors import ChartgenError
from chartgen.repo.archive import read_archive
from chartgen.repo.publish import publish
from chartgen.repo.publish.oci import is_loopback, registry_credentials
from oci_registry import registry, start_registry, write_htpasswd  # noqa: F401  (session fixture)
from publish_helpers import package


@pytest.fixture(autouse=True)
def quick_settle(monkeypatch):
    """Confirm pushes after 0.3 s instead of publish.ociSettle's 3 s (a local registry answers
    in milliseconds); tests/test_hostile_publish.py covers the confirmation itself."""
    from chartgen.repo.publish import claims

    monkeypatch.setattr(claims, "SETTLE_SECONDS", 0.3)


def pull_back(reference: str, version: str, folder, **kwargs):
    import helm_python

    folder.mkdir(parents=True, exist_ok=True)
    helm_python.pull(reference, version=version, destination=str(folder), plain_http=True, **kwargs)
    return read_archive(folder / f"{reference.rsplit('/', 1)[-1]}-{version}.tgz")


def test_push_pull_back_same_digest(registry, tmp_path):
    archive = package(tmp_path / "s", tmp_path / "dist", "hello", "1.0.0")
    result = publish([archive], f"oci://{registry}/charts/team")
    assert result.added == (("hello", "1.0.0"),)
    assert result.location == f"oci://{registry}/charts/team/hello:1.0.0"
    pulled = pull_back(f"oci://{registry}/charts/team/hello", "1.0.0", tmp_path / "pulled")
    assert pulled.digest == read_archive(archive).digest
    # the same archive again: nothing pushed
    again = publish([archive], f"oci://{registry}/charts/team")
    assert again.unchanged == (("hello", "1.0.0"),) and not again.added


def test_changed_version_is_refused_unless_forced(registry, tmp_path):
    first = package(tmp_path / "a", tmp_path / "d1", "immutable", "1.0.0")
    publish([first], f"oci://{registry}/charts")
    changed = package(tmp_path / "b", tmp_path / "d2", "immutable", "1.0.0", greeting="Changed")
    other = package(tmp_path / "b", tmp_path / "d2", "unrelated", "1.0.0")
    with pytest.raises(ChartgenError) as caught:
        publish([other, changed], f"oci://{registry}/charts")
    assert caught.value.code == "version-immutable"
    import helm_python

    with helm_python.RegistryClient(plain_http=True) as client:
        with pytest.raises(helm_python.HelmError):
            client.tags(f"oci://{registry}/charts/unrelated")  # checked before any push: nothing pushed
    assert pull_back(f"oci://{registry}/charts/immutable", "1.0.0", tmp_path / "p1").digest == read_archive(first).digest
    forced = publish([changed], f"oci://{registry}/charts", force=True)
    assert forced.replaced == (("immutable", "1.0.0"),)
    assert pull_back(f"oci://{registry}/charts/immutable", "1.0.0", tmp_path / "p2").digest == read_archive(changed).digest


def test_loopback_detection():
    assert is_loopback("127.0.0.1:5000") and is_loopback("localhost:5000") and is_loopback("[::1]:5000")
    assert not is_loopback("quay.io") and not is_loopback("registry.example.test:5000")


def test_credentials_from_the_environment_or_docker_config(tmp_path):
    env = {"CHARTGEN_REGISTRY_USERNAME": "robot", "CHARTGEN_REGISTRY_PASSWORD": "pw-from-env"}
    assert registry_credentials("r.test", env) == ("robot", "pw-from-env")
    config = tmp_path / "docker"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"auths": {
        "r.test": {"auth": base64.b64encode(b"bot:pw-from-file").decode()},
        "https://other.test": {"username": "u", "password": "p"}}}))
    assert registry_credentials("r.test", {"DOCKER_CONFIG": str(config)}) == ("bot", "pw-from-file")
    assert registry_credentials("other.test", {"DOCKER_CONFIG": str(config)}) == ("u", "p")
    assert registry_credentials("third.test", {"DOCKER_CONFIG": str(config)}) is None


@pytest.fixture(scope="module")
def private_registry(tmp_path_factory):
    """A registry that demands a login (htpasswd, bcrypt)."""
    folder = tmp_path_factory.mktemp("private-registry")
    htpasswd = write_htpasswd(folder / "htpasswd", "pusher", "registry-pass-1234")
    host, stop = start_registry(folder / "registry", htpasswd=htpasswd)
    yield host
    stop()


def test_private_registry_login_without_printing_the_password(private_registry, tmp_path):
    archive = package(tmp_path / "s", tmp_path / "dist", "hello", "2.0.0")
    with pytest.raises(ChartgenError) as caught:
        publish([archive], f"oci://{private_registry}/charts", env={})
    assert caught.value.code in ("publish-oci", "publish-oci-login")
    wrong = "definitely-wrong-password"
    with pytest.raises(ChartgenError) as caught:
        publish([archive], f"oci://{private_registry}/charts",
                env={"CHARTGEN_REGISTRY_USERNAME": "pusher", "CHARTGEN_REGISTRY_PASSWORD": wrong})
    assert caught.value.code == "publish-oci-login" and wrong not in caught.value.format()
    docker = tmp_path / "docker"
    docker.mkdir()
    (docker / "config.json").write_text(json.dumps({"auths": {private_registry: {
        "auth": base64.b64encode(b"pusher:registry-pass-1234").decode()}}}))
    result = publish([archive], f"oci://{private_registry}/charts", env={"DOCKER_CONFIG": str(docker)})
    assert result.added == (("hello", "2.0.0"),)
    assert "registry-pass-1234" not in repr(result)
    import helm_python

    with helm_python.RegistryClient(plain_http=True, credentials_file=tmp_path / "creds.json") as client:
        client.login(private_registry, "pusher", "registry-pass-1234", plain_http=True)
        pulled = pull_back(f"oci://{private_registry}/charts/hello", "2.0.0", tmp_path / "pulled", client=client)
    assert pulled.digest == read_archive(archive).digest
