"""`--change` instructions on import, as docker import applies them."""

from __future__ import annotations

import pytest

from runtime.image.changes import InvalidChange, apply_changes
from runtime.image.config import ImageConfig


def test_each_instruction() -> None:
    config = apply_changes(ImageConfig(env=["PATH=/bin", "A=old"]), [
        'CMD ["httpd", "-f", "-p", "80", "-h", "/www"]',
        "ENTRYPOINT /init --verbose",
        'ENV A=new B="two words"',
        "ENV LEGACY value with spaces",
        "EXPOSE 80 53/udp 8080/TCP",
        'LABEL org.example.team=web "version=1 beta"',
        "USER www-data:www-data",
        "workdir /srv",
        "STOPSIGNAL SIGQUIT",
        'VOLUME ["/data", "/logs"]',
        "VOLUME /cache",
    ])
    assert config.cmd == ["httpd", "-f", "-p", "80", "-h", "/www"]
    assert config.entrypoint == ["/bin/sh", "-c", "/init --verbose"]
    assert config.env == ["PATH=/bin", "A=new", "B=two words", "LEGACY=value with spaces"]
    assert config.exposed_ports == ["53/udp", "80/tcp", "8080/tcp"]
    assert config.labels == {"org.example.team": "web", "version": "1 beta"}
    assert (config.user, config.working_dir, config.stop_signal) == ("www-data:www-data", "/srv", "SIGQUIT")
    assert config.volumes == ["/cache", "/data", "/logs"]


def test_no_changes_keep_the_config() -> None:
    config = ImageConfig(cmd=["sh"])
    assert apply_changes(config, []) is config


@pytest.mark.parametrize("bad", [
    "RUN apt-get install x", "CMD", "CMD [1, 2]", 'CMD ["unterminated', "EXPOSE http", "EXPOSE 70000",
    "EXPOSE 80/icmp", "LABEL novalue", 'ENV A="unterminated', "FROM scratch", "",
])
def test_refused_changes(bad: str) -> None:
    with pytest.raises(InvalidChange):
        apply_changes(ImageConfig(), [bad])
