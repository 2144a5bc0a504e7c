"""The keyword and OpenAI-compatible analyzers, and the fake completions endpoint."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from syncjobs.errors import (
    ConfigurationError,
    FatalError,
    ProviderUnavailableError,
    RateLimitedError,
    RetriableError,
    UnexpectedResponseError,
)
from syncjobs.insights.analyzers import (
    Analyzer,
    KeywordAnalyzer,
    OpenAICompatibleAnalyzer,
    build_analyzer,
    parse_retry_after,
    system_prompt,
)
from syncjobs.insights.models import Decision, Preferences, QueuedItem, Verdict
from syncjobs.settings import AnalyzerSettings, Settings
from syncjobs.testing.fakes import FakeCompletions, serve

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
KEY = "sk-test-SECRET-key-0123456789"


def make_item(
    *,
    title: str | None = "A quiet river walk",
    text: str | None = "Nothing to see here.",
    author: str | None = "Nature Channel",
    channel: str = "Nature Channel",
    raw: dict[str, Any] | None = None,
    item_id: int = 1,
) -> QueuedItem:
    return QueuedItem(
        item_id=item_id,
        account_id="acc-1",
        owner_id="owner-1",
        provider="youtube",
        external_id=f"vid{item_id}",
        kind="video",
        title=title,
        text=text,
        author=author,
        channel=channel,
        published_at=NOW,
        raw=raw or {},
        first_seen_at=NOW,
    )


def prefs(**fields: Any) -> Preferences:
    return Preferences(owner_id="owner-1", **fields)


# --------------------------------------------------------------------------- keyword


@pytest.fixture
def keyword() -> KeywordAnalyzer:
    return KeywordAnalyzer()


def test_keyword_is_an_analyzer(keyword: KeywordAnalyzer) -> None:
    assert isinstance(keyword, Analyzer)
    assert keyword.name == "keyword"


def test_default_is_allow_80_with_no_usage(keyword: KeywordAnalyzer) -> None:
    verdict = keyword.analyze(make_item(), prefs())
    assert verdict == Verdict(Decision.ALLOW, 80, (), tokens=0, ai_calls=0)


@pytest.mark.parametrize(
    ("item", "blocked"),
    [
        (make_item(channel="Bad Channel", author=None), "bad channel"),
        (make_item(channel="x", author="Bad Channel"), "BAD CHANNEL"),
        (make_item(channel="x", author=None, raw={"channelId": "UC123"}), "uc123"),
        (make_item(channel="x", author=None, raw={"snippet": {"channelId": "UC9"}}), "UC9"),
    ],
)
def test_blocked_channel_blocks_100(
    keyword: KeywordAnalyzer, item: QueuedItem, blocked: str
) -> None:
    verdict = keyword.analyze(item, prefs(blocked_channels=(blocked,)))
    assert (verdict.decision, verdict.confidence, verdict.tags) == (
        Decision.BLOCK,
        100,
        ("blocked_channel",),
    )


def test_blocked_channel_wins_over_allowed_and_words(keyword: KeywordAnalyzer) -> None:
    p = prefs(blocked_channels=("nature channel",), allowed_channels=("Nature Channel",))
    assert keyword.analyze(make_item(), p).decision is Decision.BLOCK


def test_allowed_channel_allows_100_even_with_blocked_words(keyword: KeywordAnalyzer) -> None:
    p = prefs(allowed_channels=("NATURE channel",), blocked_words=("river",))
    verdict = keyword.analyze(make_item(), p)
    assert (verdict.decision, verdict.confidence, verdict.tags) == (
        Decision.ALLOW,
        100,
        ("allowed_channel",),
    )


def test_blocked_word_blocks_with_confidence_by_distinct_matches(
    keyword: KeywordAnalyzer,
) -> None:
    one = keyword.analyze(make_item(title="Gun review"), prefs(blocked_words=("gun",)))
    assert (one.decision, one.confidence, one.tags) == (Decision.BLOCK, 70, ("blocked_word:gun",))
    item = make_item(title="Zombie gun", text="A gun, a ZOMBIE and a knife. gun gun")
    three = keyword.analyze(item, prefs(blocked_words=("knife", "zombie", "gun", "Gun")))
    assert three.confidence == 90  # 3 distinct words (gun twice in the list counts once)
    assert three.tags == ("blocked_word:gun", "blocked_word:knife", "blocked_word:zombie")
    many = keyword.analyze(
        make_item(title="a b c d e f"), prefs(blocked_words=("a", "b", "c", "d", "e", "f"))
    )
    assert many.confidence == 95


def test_blocked_word_is_whole_word_and_case_insensitive(keyword: KeywordAnalyzer) -> None:
    p = prefs(blocked_words=("gun",))
    assert (
        keyword.analyze(make_item(title="It has begun", text="guns and gunner"), p).decision
        is Decision.ALLOW
    )
    assert keyword.analyze(make_item(title="GUN!"), p).decision is Decision.BLOCK
    assert keyword.analyze(make_item(title="(Gun)"), p).decision is Decision.BLOCK


def test_blocked_phrase_and_special_characters(keyword: KeywordAnalyzer) -> None:
    phrase = prefs(blocked_words=("Bad  Word",))
    verdict = keyword.analyze(make_item(text="a bad\nword here"), phrase)
    assert verdict.tags == ("blocked_word:bad word",)
    assert keyword.analyze(make_item(text="badword"), phrase).decision is Decision.ALLOW
    escaped = prefs(blocked_words=("c++", "a.b"))
    assert keyword.analyze(make_item(text="learn c++ today"), escaped).tags == ("blocked_word:c++",)
    assert keyword.analyze(make_item(text="axb"), escaped).decision is Decision.ALLOW


def test_blocked_words_searched_in_author_and_raw_tags(keyword: KeywordAnalyzer) -> None:
    p = prefs(blocked_words=("prank", "casino", "spam"))
    top = keyword.analyze(make_item(raw={"tags": ["Prank", 3]}), p)
    assert top.tags == ("blocked_word:prank",)
    snippet = keyword.analyze(make_item(raw={"snippet": {"tags": ["casino night"]}}), p)
    assert snippet.tags == ("blocked_word:casino",)
    author = keyword.analyze(make_item(author="Spam King", channel="x"), p)
    assert author.tags == ("blocked_word:spam",)


def test_empty_blocked_words_are_ignored(keyword: KeywordAnalyzer) -> None:
    assert keyword.analyze(make_item(), prefs(blocked_words=("", "  "))).decision is Decision.ALLOW


@pytest.mark.parametrize(
    "raw",
    [
        {"ageRestricted": True},
        {"contentRating": {"ytRating": "ytAgeRestricted"}},
        {"contentDetails": {"contentRating": {"ytRating": "ytAgeRestricted"}}},
    ],
)
def test_age_restricted_items_by_viewer_age(keyword: KeywordAnalyzer, raw: dict[str, Any]) -> None:
    item = make_item(raw=raw)
    child = keyword.analyze(item, prefs(viewer_age=9))
    assert (child.decision, child.confidence, child.tags) == (
        Decision.BLOCK,
        90,
        ("age_restricted",),
    )
    teen = keyword.analyze(item, prefs(viewer_age=15))
    assert (teen.decision, teen.confidence, teen.tags) == (
        Decision.REVIEW,
        70,
        ("age_restricted",),
    )
    assert keyword.analyze(item, prefs(viewer_age=18)).decision is Decision.ALLOW
    assert keyword.analyze(item, prefs()).decision is Decision.ALLOW  # age unknown: no rule


def test_not_age_restricted_markers(keyword: KeywordAnalyzer) -> None:
    for raw in ({"ageRestricted": "yes"}, {"contentRating": {"ytRating": "other"}}):
        assert keyword.analyze(make_item(raw=raw), prefs(viewer_age=5)).decision is Decision.ALLOW


def test_mature_words_review_only_for_young_viewers(keyword: KeywordAnalyzer) -> None:
    item = make_item(title="NSFW horror night", text="Some violence. Horror!")
    young = keyword.analyze(item, prefs(viewer_age=12))
    assert (young.decision, young.confidence, young.tags) == (
        Decision.REVIEW,
        60,
        ("mature:horror", "mature:nsfw", "mature:violence"),
    )
    assert keyword.analyze(item, prefs(viewer_age=13)).decision is Decision.ALLOW
    assert keyword.analyze(item, prefs()).decision is Decision.ALLOW
    assert (
        keyword.analyze(make_item(title="Goretex jacket"), prefs(viewer_age=8)).decision
        is Decision.ALLOW
    )


def test_blocked_words_come_before_age_rules(keyword: KeywordAnalyzer) -> None:
    item = make_item(title="gore and gun", raw={"ageRestricted": True})
    verdict = keyword.analyze(item, prefs(viewer_age=5, blocked_words=("gun",)))
    assert verdict.tags == ("blocked_word:gun",)


def test_keyword_patterns_are_cached_and_thread_safe(keyword: KeywordAnalyzer) -> None:
    words = ("gun", "knife")
    assert keyword.patterns_for(words) is keyword.patterns_for(list(words))
    results: list[Decision] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        p = prefs(blocked_words=(f"w{n % 5}", "gun"))
        for i in range(50):
            verdict = keyword.analyze(make_item(title=f"w{i % 5} thing"), p)
            with lock:
                results.append(verdict.decision)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 400
    assert results.count(Decision.BLOCK) == 8 * 10  # each thread's one word matches 1 in 5


# --------------------------------------------------------------------------- openai


@contextmanager
def openai_analyzer(
    fake: FakeCompletions, *, loopback: bool = False, key: str = KEY, timeout: float = 10.0
) -> Iterator[OpenAICompatibleAnalyzer]:
    if loopback:
        with serve(fake) as root:
            analyzer = OpenAICompatibleAnalyzer(root, key, "gpt-test", timeout=timeout)
            try:
                yield analyzer
            finally:
                analyzer.close()
    else:
        analyzer = OpenAICompatibleAnalyzer(
            "http://ai.test", key, "gpt-test", transport=fake.transport()
        )
        try:
            yield analyzer
        finally:
            analyzer.close()


@pytest.fixture
def fake() -> FakeCompletions:
    return FakeCompletions(api_key=KEY)


@pytest.fixture(params=["in_process", "loopback"])
def analyzer(
    request: pytest.FixtureRequest, fake: FakeCompletions
) -> Iterator[OpenAICompatibleAnalyzer]:
    with openai_analyzer(fake, loopback=request.param == "loopback") as made:
        yield made


def test_openai_is_an_analyzer(analyzer: OpenAICompatibleAnalyzer) -> None:
    assert isinstance(analyzer, Analyzer)
    assert analyzer.name == "openai"
    assert KEY not in repr(analyzer)


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("https://api.example.com", "https://api.example.com/v1/chat/completions"),
        ("https://api.example.com/", "https://api.example.com/v1/chat/completions"),
        ("https://api.example.com/v1", "https://api.example.com/v1/chat/completions"),
        ("https://api.example.com/v1/", "https://api.example.com/v1/chat/completions"),
        ("http://host/proxy/openai", "http://host/proxy/openai/v1/chat/completions"),
    ],
)
def test_openai_url(base: str, url: str) -> None:
    made = OpenAICompatibleAnalyzer(base, KEY, "m")
    try:
        assert made.url == url
    finally:
        made.close()


def test_openai_verdicts(analyzer: OpenAICompatibleAnalyzer, fake: FakeCompletions) -> None:
    allow = analyzer.analyze(make_item(), prefs())
    assert (allow.decision, allow.confidence, allow.tags, allow.ai_calls) == (
        Decision.ALLOW,
        85,
        (),
        1,
    )
    assert allow.tokens is not None and allow.tokens > 0
    block = analyzer.analyze(make_item(text="Graphic violence"), prefs())
    assert (block.decision, block.confidence, block.tags) == (
        Decision.BLOCK,
        90,
        ("mature:violence",),
    )
    review = analyzer.analyze(make_item(title="Mature themes"), prefs())
    assert (review.decision, review.confidence) == (Decision.REVIEW, 60)
    words = analyzer.analyze(
        make_item(title="Toy gun unboxing"), prefs(blocked_words=("gun", "bad, word"))
    )
    assert (words.decision, words.tags) == (Decision.BLOCK, ("blocked_word:gun",))
    comma = analyzer.analyze(make_item(text="a bad, word"), prefs(blocked_words=("bad, word",)))
    assert comma.tags == ("blocked_word:bad, word",)
    assert fake.calls == 5
    assert fake.tokens_total == sum(v.tokens or 0 for v in (allow, block, review, words, comma))


def test_openai_request_shape(analyzer: OpenAICompatibleAnalyzer, fake: FakeCompletions) -> None:
    p = prefs(
        blocked_words=("gun",), allowed_channels=("Good",), blocked_channels=("Bad",), viewer_age=11
    )
    analyzer.analyze(make_item(text="x" * 10_000), p)
    body = fake.bodies[-1]
    assert body["model"] == "gpt-test"
    assert body["temperature"] == 0
    assert body["max_tokens"] == 200
    assert body["response_format"] == {"type": "json_object"}
    system, user = body["messages"]
    assert system["role"] == "system" and user["role"] == "user"
    assert 'Blocked words: ["gun"]' in system["content"]
    assert 'Allowed channels: ["Good"]' in system["content"]
    assert 'Blocked channels: ["Bad"]' in system["content"]
    assert "Viewer age: 11" in system["content"]
    assert '"decision": "ALLOW" | "BLOCK" | "REVIEW"' in system["content"]
    assert "Provider: youtube" in user["content"] and "Channel: Nature Channel" in user["content"]
    assert user["content"].endswith("Text: " + "x" * 4000)
    assert "Viewer age: unknown" in system_prompt(prefs())


def test_openai_tokens_omitted_is_none(
    analyzer: OpenAICompatibleAnalyzer, fake: FakeCompletions
) -> None:
    fake.omit_usage = True
    verdict = analyzer.analyze(make_item(), prefs())
    assert verdict.tokens is None and verdict.ai_calls == 1


def test_openai_tolerates_fenced_replies(
    analyzer: OpenAICompatibleAnalyzer, fake: FakeCompletions
) -> None:
    fake.fence_replies = True
    assert analyzer.analyze(make_item(text="gore"), prefs()).decision is Decision.BLOCK


def test_openai_rate_limit(analyzer: OpenAICompatibleAnalyzer, fake: FakeCompletions) -> None:
    fake.fail_next(429, retry_after=7)
    with pytest.raises(RateLimitedError) as caught:
        analyzer.analyze(make_item(), prefs())
    assert caught.value.retry_after == 7
    assert caught.value.status_code == 429 and caught.value.provider == "openai"
    fake.fail_next(429)  # no Retry-After: the default
    with pytest.raises(RateLimitedError) as default:
        analyzer.analyze(make_item(), prefs())
    assert default.value.retry_after == 20
    assert analyzer.analyze(make_item(), prefs()).decision is Decision.ALLOW


@pytest.mark.parametrize("status", [500, 502, 503, 408])
def test_openai_unavailable(
    analyzer: OpenAICompatibleAnalyzer, fake: FakeCompletions, status: int
) -> None:
    fake.fail_next(status)
    with pytest.raises(ProviderUnavailableError) as caught:
        analyzer.analyze(make_item(), prefs())
    assert isinstance(caught.value, RetriableError)
    assert caught.value.status_code == status


def test_openai_other_4xx_is_unexpected(
    analyzer: OpenAICompatibleAnalyzer, fake: FakeCompletions
) -> None:
    fake.fail_next(404)
    with pytest.raises(UnexpectedResponseError) as caught:
        analyzer.analyze(make_item(), prefs())
    assert caught.value.status_code == 404


@pytest.mark.parametrize("loopback", [False, True])
def test_openai_bad_key_is_configuration_error(fake: FakeCompletions, loopback: bool) -> None:
    wrong = "sk-wrong-SECRET-abcdef123456"
    with (
        openai_analyzer(fake, loopback=loopback, key=wrong) as made,
        pytest.raises(ConfigurationError) as caught,
    ):
        made.analyze(make_item(), prefs())
    text = str(caught.value)
    assert "SYNCJOBS_OPENAI__API_KEY" in text
    assert wrong not in text and wrong[-4:] not in text and "SECRET" not in text
    assert fake.calls == 0


def test_openai_missing_key_is_configuration_error(fake: FakeCompletions) -> None:
    with openai_analyzer(fake, key="") as made, pytest.raises(ConfigurationError):
        made.analyze(make_item(), prefs())


@pytest.mark.parametrize("variant", ["prose", "wrong_shape", "no_choices", "not_json_body"])
def test_openai_malformed_is_unexpected(
    analyzer: OpenAICompatibleAnalyzer, fake: FakeCompletions, variant: str
) -> None:
    fake.malformed_next(variant=variant)
    with pytest.raises(UnexpectedResponseError) as caught:
        analyzer.analyze(make_item(), prefs())
    assert isinstance(caught.value, FatalError)
    assert len(str(caught.value)) < 200
    assert analyzer.analyze(make_item(), prefs()).decision is Decision.ALLOW


def test_openai_key_never_in_errors(
    analyzer: OpenAICompatibleAnalyzer, fake: FakeCompletions
) -> None:
    injections: list[Callable[[], None]] = [
        lambda: fake.fail_next(429, retry_after=1),
        lambda: fake.fail_next(500),
        lambda: fake.fail_next(400),
        lambda: fake.malformed_next(),
    ]
    for inject in injections:
        inject()
        with pytest.raises(Exception) as caught:
            analyzer.analyze(make_item(), prefs())
        assert KEY not in str(caught.value) and KEY not in repr(caught.value)
        assert "SECRET" not in str(caught.value)


def test_openai_key_never_logged(fake: FakeCompletions, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with openai_analyzer(fake, loopback=True) as made:
        made.analyze(make_item(), prefs())
        fake.fail_next(500)
        with pytest.raises(ProviderUnavailableError):
            made.analyze(make_item(), prefs())
    assert caplog.records  # httpx and httpcore did log
    assert KEY not in caplog.text and "SECRET" not in caplog.text


def test_openai_timeout_and_connection_errors(fake: FakeCompletions) -> None:
    fake.latency = 0.5
    with openai_analyzer(fake, loopback=True, timeout=0.05) as made:
        with pytest.raises(ProviderUnavailableError) as caught:
            made.analyze(make_item(), prefs())
        assert caught.value.reason == "timeout"
    with serve(fake) as root:
        pass  # the port is closed now
    made = OpenAICompatibleAnalyzer(root, KEY, "m", timeout=2)
    try:
        with pytest.raises(ProviderUnavailableError) as refused:
            made.analyze(make_item(), prefs())
        assert refused.value.reason == "transport_error"
    finally:
        made.close()


def _reply(content: str, usage: Any = None) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        body: dict[str, Any] = {"choices": [{"message": {"content": content}}]}
        if usage is not None:
            body["usage"] = usage
        return httpx.Response(200, json=body)

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    ("content", "usage", "expected"),
    [
        (
            '{"decision": "block", "confidence": 150.4, "tags": ["a"]}',
            None,
            (Decision.BLOCK, 100, ("a",), None),
        ),
        (
            '{"decision": "Review", "confidence": -3}',
            {"prompt_tokens": 3, "completion_tokens": 4},
            (Decision.REVIEW, 0, (), 7),
        ),
        (
            'Sure! {"decision": "ALLOW", "confidence": "55", "tags": null}',
            {"total_tokens": 9},
            (Decision.ALLOW, 55, (), 9),
        ),
        (
            '```\n{"decision":"ALLOW","confidence":1,"tags":["x"]}\n```',
            {"prompt_tokens": 3},
            (Decision.ALLOW, 1, ("x",), None),
        ),
    ],
)
def test_openai_reply_parsing(content: str, usage: Any, expected: tuple[Any, ...]) -> None:
    made = OpenAICompatibleAnalyzer("http://x", KEY, "m", transport=_reply(content, usage))
    verdict = made.analyze(make_item(), prefs())
    assert (verdict.decision, verdict.confidence, verdict.tags, verdict.tokens) == expected


def test_openai_tags_are_bounded() -> None:
    reply = json.dumps(
        {
            "decision": "ALLOW",
            "confidence": 50,
            "tags": ["t" * 100] + [f"tag{i}" for i in range(30)] + [{"no": 1}],
        }
    )
    made = OpenAICompatibleAnalyzer("http://x", KEY, "m", transport=_reply(reply))
    tags = made.analyze(make_item(), prefs()).tags
    assert len(tags) == 20 and tags[0] == "t" * 64


@pytest.mark.parametrize(
    "content",
    [
        '{"decision": "MAYBE", "confidence": 5}',
        '{"decision": "ALLOW"}',
        '{"decision": "ALLOW", "confidence": true}',
        '{"decision": "ALLOW", "confidence": 5, "tags": "a"}',
        "[1, 2]",
    ],
)
def test_openai_bad_reply_shapes(content: str) -> None:
    made = OpenAICompatibleAnalyzer("http://x", KEY, "m", transport=_reply(content))
    with pytest.raises(UnexpectedResponseError):
        made.analyze(make_item(), prefs())


@pytest.mark.parametrize("loopback", [False, True])
def test_openai_concurrent_calls(fake: FakeCompletions, loopback: bool) -> None:
    with openai_analyzer(fake, loopback=loopback) as analyzer:
        _concurrent_calls(analyzer, fake)


def _concurrent_calls(analyzer: OpenAICompatibleAnalyzer, fake: FakeCompletions) -> None:
    results: list[Verdict] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def work(n: int) -> None:
        barrier.wait()
        try:
            title = "gore" if n % 2 else "calm"
            verdict = analyzer.analyze(make_item(title=title, item_id=n), prefs())
        except BaseException as exc:  # pragma: no cover - reported below
            with lock:
                errors.append(exc)
            return
        with lock:
            results.append(verdict)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 20
    assert sum(v.decision is Decision.BLOCK for v in results) == 10
    assert fake.calls == 20 and len(fake.bodies) == 20 and fake.requests == 20


# --------------------------------------------------------------------------- fake


def test_fake_completions_validates_requests(fake: FakeCompletions) -> None:
    with httpx.Client(transport=fake.transport(), base_url="http://ai.test") as client:
        headers = {"Authorization": f"Bearer {KEY}"}
        missing = client.post("/v1/chat/completions", json={"model": "m", "messages": []})
        assert missing.status_code == 401
        assert set(missing.json()["error"]) >= {"message", "type", "code"}
        wrong = client.post(
            "/v1/chat/completions", json={}, headers={"Authorization": "Bearer sk-nope-12345"}
        )
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
        for body in (
            {"messages": [{"role": "user", "content": "hi"}]},
            {"model": "m"},
            {"model": "m", "messages": [{"role": "user"}]},
            {"model": "m", "messages": [{"role": "robot", "content": "x"}]},
        ):
            bad = client.post("/v1/chat/completions", json=body, headers=headers)
            assert bad.status_code == 400, body
            assert bad.json()["error"]["type"] == "invalid_request_error"
        ok = client.post(
            "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "hello"}]},
            headers=headers,
        )
        assert ok.status_code == 200
        reply = ok.json()
        assert reply["object"] == "chat.completion" and reply["model"] == "m"
        assert reply["id"].startswith("chatcmpl-")
        choice = reply["choices"][0]
        assert choice["index"] == 0 and choice["finish_reason"] == "stop"
        assert choice["message"]["role"] == "assistant"
        assert json.loads(choice["message"]["content"])["decision"] == "ALLOW"
        usage = reply["usage"]
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        assert client.get("/v1/chat/completions", headers=headers).status_code == 405
        assert client.post("/v1/other", headers=headers).status_code == 404
    assert fake.calls == 1 and fake.requests == 9


def test_fake_completions_is_deterministic() -> None:
    one, two = FakeCompletions(seed=3), FakeCompletions(seed=3)
    body = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
    answers = []
    for made in (one, two):
        made.clock = lambda: 1_700_000_000.0
        with httpx.Client(transport=made.transport()) as client:
            response = client.post(
                "http://ai.test/v1/chat/completions",
                json=body,
                headers={"Authorization": "Bearer test-key"},
            )
        answers.append(response.json())
    assert answers[0] == answers[1]


def test_fake_completions_rejects_bad_fault_arguments(fake: FakeCompletions) -> None:
    with pytest.raises(ValueError):
        fake.fail_next(200)
    with pytest.raises(ValueError):
        fake.malformed_next(variant="nope")


# --------------------------------------------------------------------------- misc


def test_parse_retry_after() -> None:
    assert parse_retry_after("12", 5) == 12
    assert parse_retry_after("1.5", 5) == 1.5
    assert parse_retry_after(None, 5) == 5
    assert parse_retry_after("soon", 5) == 5
    assert parse_retry_after("-3", 5) == 0
    assert parse_retry_after("nan", 5) == 5
    assert parse_retry_after("Wed, 01 May 2024 12:00:30 GMT", 5, now=NOW) == 30


def test_build_analyzer(fake: FakeCompletions) -> None:
    assert isinstance(build_analyzer(Settings(analyzer="keyword")), KeywordAnalyzer)
    with pytest.raises(ConfigurationError, match="SYNCJOBS_OPENAI__API_KEY"):
        build_analyzer(Settings(analyzer="openai"))
    settings = Settings(
        analyzer="openai",
        openai=AnalyzerSettings(
            base_url="http://ai.test/v1", api_key=KEY, model="gpt-x", max_tokens=64
        ),
    )
    made = build_analyzer(settings, transport=fake.transport())
    try:
        assert isinstance(made, OpenAICompatibleAnalyzer)
        assert made.analyze(make_item(), prefs()).decision is Decision.ALLOW
        assert fake.bodies[-1]["model"] == "gpt-x" and fake.bodies[-1]["max_tokens"] == 64
    finally:
        made.close()


def test_an_exhausted_openai_quota_stops_the_run_instead_of_waiting() -> None:
    def out_of_quota(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429,
            json={
                "error": {
                    "message": "You exceeded your current quota",
                    "type": "insufficient_quota",
                    "code": "insufficient_quota",
                }
            },
        )

    analyzer = OpenAICompatibleAnalyzer(
        "http://fake", "sk-secret-key", "m", transport=httpx.MockTransport(out_of_quota)
    )
    with pytest.raises(ConfigurationError, match="out of quota") as caught:
        analyzer.analyze(make_item(), Preferences(owner_id="o"))
    assert "sk-secret-key" not in str(caught.value)
    analyzer.close()
