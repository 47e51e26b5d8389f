"""Dockerfile syntax, words, stages and .dockerignore rules: table tests, no kernel."""

from __future__ import annotations

import pytest

from runtime.image.build import DockerfileError, parse
from runtime.image.build.dockerignore import DockerIgnore
from runtime.image.build.metadata import StageConfig, apply, declare_args, healthcheck
from runtime.image.build.stages import needed_stages, select_target, split_stages
from runtime.image.build.words import WordError, expand, expand_words, split_raw
from runtime.image.config import ImageConfig

ENV = {"A": "1", "EMPTY": "", "SP": "x y"}


@pytest.mark.parametrize(("word", "expected"), [
    ("$A", "1"), ("${A}", "1"), ("pre${A}post", "pre1post"), ("$NOPE", ""), ("${NOPE:-d}", "d"),
    ("${EMPTY:-d}", "d"), ("${EMPTY-d}", ""), ("${A:-d}", "1"), ("${A:+alt}", "alt"), ("${EMPTY:+alt}", ""),
    ("${EMPTY+alt}", "alt"), ("${NOPE+alt}", ""), ("'$A'", "$A"), ('"$A"', "1"), ("\\$A", "$A"),
    ('"a\\"b"', 'a"b'), ("${NOPE:-${A}x}", "1x"), ("$", "$"), ("a$", "a$"), ("${SP}", "x y"),
])
def test_expand(word: str, expected: str) -> None:
    assert expand(word, ENV) == expected


def test_expand_with_backtick_escape() -> None:
    assert expand("C:\\path`$A", ENV, escape="`") == "C:\\path$A"


@pytest.mark.parametrize(("text", "message"), [
    ("${A", "unterminated"), ("'open", "unterminated ' quote"), ('"open', 'unterminated " quote'),
    ("${NOPE:?must be set}", "NOPE: must be set"), ("${A:=x}", "bad substitution"), ("${1}", "bad substitution"),
])
def test_expand_errors(text: str, message: str) -> None:
    with pytest.raises(WordError, match=message):
        expand(text, ENV)


def test_words_split_on_unquoted_space_but_not_inside_values() -> None:
    assert expand_words('a "b c" $SP d\\ e', ENV) == ["a", "b c", "x y", "d e"]
    assert split_raw('k="a b" k2=c') == ['k="a b"', "k2=c"]


def test_continuations_comments_and_lines() -> None:
    df = parse("FROM scratch\n# comment\nRUN a \\\n  # inside\n\n  b\nCOPY x /y\n", "Df")
    assert [(i.keyword, i.line) for i in df.instructions] == [("FROM", 1), ("RUN", 3), ("COPY", 7)]
    assert df.instructions[1].args == "a   b"


def test_escape_directive_switches_the_continuation_character() -> None:
    df = parse("# escape=`\nFROM scratch\nRUN dir c:\\ `\n  && echo\n", "Df")
    assert df.escape == "`"
    assert df.instructions[1].args == "dir c:\\   && echo"


def test_directives_only_count_at_the_top() -> None:
    df = parse("FROM scratch\n# escape=`\nRUN a \\\n b\n")
    assert df.escape == "\\" and df.instructions[1].args == "a  b"


def test_exec_form_flags_and_heredoc() -> None:
    df = parse('FROM --platform=linux/amd64 busybox AS b\nCMD ["a", "b c"]\nCOPY --from=b --chown=1:2 /x /y\n'
               'RUN [not json\nRUN <<EOF\necho one\necho two\nEOF\nENTRYPOINT ["x"]\n')
    ins = df.instructions
    assert ins[0].flags == {"platform": "linux/amd64"}
    assert ins[1].exec_form == ["a", "b c"]
    assert ins[2].flags == {"from": "b", "chown": "1:2"} and ins[2].args == "/x /y"
    assert ins[3].exec_form is None  # not valid JSON: shell form, as Docker does
    assert ins[4].heredocs[0].body == "echo one\necho two\n"
    assert ins[5].keyword == "ENTRYPOINT" and ins[5].line == 9


@pytest.mark.parametrize(("text", "message"), [
    ("FROM scratch\nFOO bar\n", "Df:2: unknown instruction: FOO"),
    ("FROM scratch\nONBUILD FROM x\n", "Df:2: ONBUILD FROM is not allowed"),
    ("FROM scratch\nONBUILD BOGUS x\n", "Df:2: unknown instruction: BOGUS"),
    ("FROM scratch\nCOPY --bogus=1 a b\n", "Df:2: unknown flag --bogus for COPY"),
    ("FROM scratch\nRUN --network=x --network=y make\n", "Df:2: flag --network is given twice"),
    ("FROM scratch\nCOPY --link=maybe a b\n", "Df:2: flag --link wants true or false"),
    ("FROM scratch\nADD --keep-git-dir=true git@x:y /\n", "Df:2: ADD of git repositories is not supported"),
    ("FROM scratch\nRUN\n", "Df:2: RUN requires at least one argument"),
    ("FROM scratch\nSHELL /bin/bash -c\n", "Df:2: SHELL requires the JSON form"),
    ("# escape=x\nFROM scratch\n", "Df:1: invalid escape character"),
    ("FROM scratch\nRUN <<EOF\necho\n", "Df:2: heredoc <<EOF is not closed"),
    ("\n# only a comment\n", "Df: the Dockerfile has no instructions"),
    ("FROM scratch\nCOPY --from x y\n", "Df:2: flag --from needs a value"),
])
def test_parse_errors_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(DockerfileError) as caught:
        parse(text, "Df")
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(("text", "message"), [
    ("RUN x\nFROM scratch\n", "Df:1: RUN before the first FROM"),
    ("FROM a AS one\nFROM b AS one\n", "Df:2: duplicate stage name 'one'"),
    ("FROM a AS 1x\n", "Df:1: invalid stage name"),
    ("FROM a b\n", "Df:1: FROM wants an image"),
    ("ARG X\n", "Df: the Dockerfile has no FROM"),
    ("FROM a AS one\nCOPY --from=two x y\nFROM b AS two\nFROM one\n", "Df:2: COPY --from=two: a stage can only use"),
])
def test_stage_errors(text: str, message: str) -> None:
    with pytest.raises(DockerfileError) as caught:
        plan = split_stages(parse(text, "Df"))
        needed_stages(plan, select_target(plan, None), {})
    assert str(caught.value).startswith(message)


def test_stages_target_and_only_needed_stages() -> None:
    plan = split_stages(parse("ARG V=1\nFROM a AS Base\nFROM b AS unused\nFROM base AS app\n"
                              "COPY --from=0 x y\nFROM c AS test\n", "Df"))
    assert [s.name for s in plan.stages] == ["base", "unused", "app", "test"]
    assert [s.name for s in needed_stages(plan, select_target(plan, "app"), {})] == ["base", "app"]
    assert [s.name for s in needed_stages(plan, select_target(plan, None), {})] == ["test"]
    with pytest.raises(DockerfileError, match="target stage 'nope' not found"):
        select_target(plan, "nope")


def _config(text: str, start: StageConfig | None = None, build_args: dict[str, str] | None = None) -> StageConfig:
    df = parse("FROM scratch\n" + text, "Df")
    config = start or StageConfig()
    for ins in df.instructions[1:]:
        if ins.keyword == "ARG":
            config = declare_args(df, ins, config, build_args or {}, {"G": "global"})
        else:
            config = apply(df, ins, config)
    return config


def test_env_label_expose_volume_user_stopsignal() -> None:
    config = _config('ENV A=1 B="two words"\nENV C=$A${B:+!} A=2\nENV LEGACY some value\nLABEL "k 1"=v k2=$C\n'
                     "EXPOSE 80 53/udp 8000-8001\nVOLUME /data /z\nVOLUME [\"/y\"]\nUSER nobody:nogroup\n"
                     "STOPSIGNAL term\n")
    image = config.image
    assert image.env == ["A=2", "B=two words", "C=1!", "LEGACY=some value"]
    assert image.labels == {"k 1": "v", "k2": "1!"}
    assert image.exposed_ports == ["53/udp", "80/tcp", "8000/tcp", "8001/tcp"]
    assert image.volumes == ["/data", "/y", "/z"]
    assert (image.user, image.stop_signal) == ("nobody:nogroup", "SIGTERM")


def test_cmd_entrypoint_shell_and_inherited_cmd() -> None:
    base = StageConfig(image=ImageConfig(cmd=["sh"]))
    assert _config("ENTRYPOINT [\"/app\"]\n", base).image.cmd is None  # ENTRYPOINT drops the base's CMD
    config = _config('CMD ["x"]\nENTRYPOINT run it\n', base)
    assert config.image.cmd == ["x"] and config.image.entrypoint == ["/bin/sh", "-c", "run it"]
    assert _config('SHELL ["/bin/ash", "-eo"]\nCMD echo $HOME\n').image.cmd == ["/bin/ash", "-eo", "echo $HOME"]


def test_args_build_args_defaults_and_globals() -> None:
    config = _config("ARG A=default B G NOPE\nARG C=${A}-c\nENV E=$A\n", build_args={"B": "given"})
    assert config.args == {"A": "default", "B": "given", "G": "global", "C": "default-c"}
    assert ("E=default") in config.image.env
    assert _config("ARG A=default\n", build_args={"A": "cli"}).args["A"] == "cli"
    assert _config("ARG A=x\nENV A=env\nLABEL l=$A\n").image.labels == {"l": "env"}  # ENV wins over ARG


def test_healthcheck_forms() -> None:
    df = parse("FROM scratch\nHEALTHCHECK --interval=1m30s --retries=3 CMD curl -f x\n"
               'HEALTHCHECK CMD ["probe", "a"]\nHEALTHCHECK NONE\n', "Df")
    assert healthcheck(df, df.instructions[1], ("/bin/sh", "-c")) == {
        "Test": ["CMD-SHELL", "curl -f x"], "Interval": 90_000_000_000, "Retries": 3}
    assert healthcheck(df, df.instructions[2], ("/bin/sh", "-c")) == {"Test": ["CMD", "probe", "a"]}
    assert healthcheck(df, df.instructions[3], ("/bin/sh", "-c")) == {"Test": ["NONE"]}


@pytest.mark.parametrize(("text", "message"), [
    ("EXPOSE 99999\n", "Df:2: EXPOSE: invalid port '99999'"),
    ("EXPOSE http\n", "Df:2: EXPOSE: invalid port 'http'"),
    ("STOPSIGNAL SIGNOPE\n", "Df:2: STOPSIGNAL: unknown signal"),
    ("ENV novalue\n", "Df:2: ENV: 'novalue' is not key=value"),
    ("LABEL a=1 b\n", "Df:2: LABEL: 'b' is not key=value"),
    ("USER a b\n", "Df:2: USER: wants exactly one argument"),
    ("HEALTHCHECK --interval=5 CMD x\n", "Df:2: HEALTHCHECK: --interval='5' is not a duration"),
    ("HEALTHCHECK echo\n", "Df:2: HEALTHCHECK: wants NONE or CMD"),
    ("ENV A=${B:?required}\n", "Df:2: ENV: B: required"),
])
def test_metadata_errors(text: str, message: str) -> None:
    with pytest.raises(DockerfileError) as caught:
        _config(text)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(("patterns", "path", "ignored"), [
    (["*.log"], "a.log", True), (["*.log"], "dir/a.log", False), (["**/*.log"], "dir/sub/a.log", True),
    (["**/*.log"], "a.log", True), (["build"], "build/x/y", True), (["/build/"], "build/x", True),
    (["./secret.txt"], "secret.txt", True), (["*", "!keep"], "keep", False), (["*", "!keep"], "other", True),
    (["dir", "!dir/keep"], "dir/keep", False), (["dir", "!dir/keep"], "dir/drop", True),
    (["!x", "x"], "x", True), (["file?.txt"], "file1.txt", True), (["file?.txt"], "file10.txt", False),
    (["[ab].c"], "a.c", True), (["[!ab].c"], "c.c", True), (["# comment", ""], "# comment", False),
    (["a/**/b"], "a/b", True), (["a/**/b"], "a/x/y/b", True), (["a**"], "ab/c", True),
])
def test_dockerignore_rules(patterns: list[str], path: str, ignored: bool) -> None:
    assert DockerIgnore(patterns).ignored(path) is ignored
