"""Stateful fake servers for the four providers: WSGI apps that answer like the real APIs.

In-process: ``httpx.Client(transport=fake.transport(), base_url=...)`` with
``fake.config("http://fake")``. Over loopback: ``with serve(fake) as root: fake.config(root)``.
All four behind one root: ``CombinedFakes`` mounts them at ``/youtube``, ``/gmail``,
``/instagram`` and ``/tiktok``; ``combined.config("gmail", root)``.

Connect flows: every provider fake also serves the provider's consent page and
authorization-code exchange under its root (``fake.config(root).auth_url``; Instagram's
``exchange_url``), as the real ones do. Consent is automatic: the page redirects at once to
``redirect_uri`` with ``code`` and ``state`` (Google adds the granted ``scope``, TikTok
``scopes``). The owner's answer is set on the fake: ``fake.consent = "denied"`` (the
``access_denied`` redirect), ``fake.granted_scopes = [...]`` (only those of the requested
scopes are granted), ``fake.redirect_uris = [...]`` (registered callbacks; None accepts any).
Codes are single use and expire 10 minutes after issue by ``fake.clock``; the tokens they
buy are the fake's own, so an adapter syncs with them. See ``consent``.

Not providers (and not in ``FAKES``): ``FakeCompletions``, an OpenAI-compatible
``/v1/chat/completions`` endpoint, and ``FakeWebhookReceiver``, a signature-checking webhook
receiver; both work in-process (``fake.transport()``) and under ``serve``.

Layout: ``messages`` (requests, responses), ``routing`` (routes, the WSGI base class),
``faults`` (injected faults, malformed answers), ``tokens`` (issued tokens), ``consent``
(consent pages, authorization codes, PKCE), ``paging`` (the item index, page tokens),
``corpus`` (seeded titles, ids, timestamps), ``provider``
(``FakeProvider``: the request pipeline), ``google`` (what YouTube and Gmail share), and one
package per provider whose data (``youtube.channel``, ``gmail.mailbox``,
``instagram.account``, ``tiktok.creator``) sits apart from its ``api`` (Instagram's OAuth
routes in ``instagram.oauth``).
"""

from syncjobs.testing.fakes.completions import FakeCompletions
from syncjobs.testing.fakes.faults import FAULT_KINDS, MALFORMED_VARIANTS
from syncjobs.testing.fakes.gmail import FakeGmail
from syncjobs.testing.fakes.instagram import FakeInstagram
from syncjobs.testing.fakes.provider import FakeProvider
from syncjobs.testing.fakes.server import CombinedFakes, serve
from syncjobs.testing.fakes.tiktok import FakeTikTok
from syncjobs.testing.fakes.webhook import FakeWebhookReceiver
from syncjobs.testing.fakes.youtube import FakeYouTube

#: Provider name -> fake class.
FAKES: dict[str, type[FakeProvider]] = {
    "youtube": FakeYouTube,
    "gmail": FakeGmail,
    "instagram": FakeInstagram,
    "tiktok": FakeTikTok,
}

__all__ = [
    "FAKES",
    "FAULT_KINDS",
    "MALFORMED_VARIANTS",
    "CombinedFakes",
    "FakeCompletions",
    "FakeGmail",
    "FakeInstagram",
    "FakeProvider",
    "FakeTikTok",
    "FakeWebhookReceiver",
    "FakeYouTube",
    "serve",
]
