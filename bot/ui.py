"""Block Kit views and messages built from service data (words come from templates)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.rendering import context, divider, header, render, section

if TYPE_CHECKING:
    from bot.services.delivery import DeliveryReport
    from bot.services.kudos import KudosGiven, KudosHistory
    from bot.services.network import Dashboard
    from bot.services.polls import Answered
    from bot.services.settings import ProgrammeSettings

KUDOS_MODAL = "kudos_modal"
#: At most this many people in one kudos (the picker's limit and the rule's).
MAX_RECIPIENTS = 10


def kudos_confirmation(given: KudosGiven, said: DeliveryReport) -> str:
    """What the giver is told: stored for whom, posted where, and what Slack refused."""
    o = given.outcome
    posted = given.channel_key is not None and said.ok(given.channel_key)
    return render("kudos_confirm.j2", duplicate=o.duplicate, stored=o.stored,
                  already=o.already, reason=o.reason, value=o.value,
                  channel=given.prefs.kudos_channel if posted else None,
                  failed_dms=[r for r, key in given.dm_keys.items() if not said.ok(key)],
                  failed_channel=given.prefs.kudos_channel
                  if given.channel_key is not None and not posted else None,
                  retrying=bool(said.waiting))


def kudos_modal(prefs: ProgrammeSettings, *, initial_users: list[str] | None = None,
                channel: str | None = None, message_ts: str | None = None) -> dict[str, Any]:
    """The kudos form: people picker, reason, value. Metadata remembers where it came from."""
    picker: dict[str, Any] = {"type": "multi_users_select", "action_id": "users",
                              "max_selected_items": MAX_RECIPIENTS,
                              "placeholder": {"type": "plain_text", "text": "Who helped you?"}}
    if initial_users:
        picker["initial_users"] = initial_users[:MAX_RECIPIENTS]
    blocks: list[dict[str, Any]] = [
        {"type": "input", "block_id": "recipients", "element": picker,
         "label": {"type": "plain_text", "text": "People"}},
        {"type": "input", "block_id": "reason",
         "element": {"type": "plain_text_input", "action_id": "text", "multiline": True,
                     "max_length": prefs.kudos_reason_max,
                     "placeholder": {"type": "plain_text", "text": "What did they do?"}},
         "label": {"type": "plain_text", "text": "Reason"}},
    ]
    if prefs.kudos_values:
        blocks.append({
            "type": "input", "block_id": "value", "optional": True,
            "element": {"type": "static_select", "action_id": "choice",
                        "placeholder": {"type": "plain_text", "text": "Pick a value"},
                        "options": [{"text": {"type": "plain_text", "text": f"#{v}"[:75]},
                                     "value": v} for v in prefs.kudos_values[:100]]},
            "label": {"type": "plain_text", "text": "Value"}})
    meta = {k: v for k, v in {"channel": channel, "ts": message_ts}.items() if v}
    return {"type": "modal", "callback_id": KUDOS_MODAL,
            "title": {"type": "plain_text", "text": "Give kudos"},
            "submit": {"type": "plain_text", "text": "Send kudos"},
            "close": {"type": "plain_text", "text": "Cancel"},
            "private_metadata": json.dumps(meta), "blocks": blocks}


def read_kudos_modal(view: dict[str, Any]) -> tuple[list[str], str, str | None, dict[str, str]]:
    """(recipients, reason, value, metadata) from a submitted kudos modal."""
    values = (view.get("state") or {}).get("values") or {}
    users = list((values.get("recipients") or {}).get("users", {}).get("selected_users") or [])
    reason = str((values.get("reason") or {}).get("text", {}).get("value") or "")
    option = (values.get("value") or {}).get("choice", {}).get("selected_option") or {}
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        meta = {}
    return users, reason, option.get("value"), meta if isinstance(meta, dict) else {}


def personal_home(history: KudosHistory, *, extra_blocks: list[dict[str, Any]] | None = None
                  ) -> dict[str, Any]:
    """A person's own App Home: kudos received and given in the window."""
    blocks: list[dict[str, Any]] = [header("Your PeerPulse")]
    blocks.extend(extra_blocks or [])
    blocks.append(section(render("home_kudos_summary.j2", h=history)))
    for title, items, direction in (("Kudos you received", history.received, "from"),
                                    ("Kudos you gave", history.given, "to")):
        blocks.append(divider())
        blocks.append(section(f"*{title}*"))
        if not items:
            blocks.append(context(render("home_kudos_empty.j2", direction=direction)))
        for item in items:
            blocks.append(section(render("home_kudos_item.j2", item=item, direction=direction)))
    blocks.append(context(render("home_kudos_footer.j2")))
    return {"type": "home", "blocks": blocks[:100]}


# Programme owners ----------------------------------------------------------------------

SETTINGS_MODAL = "settings_modal"
OWNER_SNAPSHOT, OWNER_EXPORT, FORGET_CONFIRM = "owner_snapshot", "owner_export", "forget_confirm"


def _text_input(block_id: str, label: str, value: str, hint: str = "",
                multiline: bool = False) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input", "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "element": {"type": "plain_text_input", "action_id": "v", "initial_value": value,
                    "multiline": multiline}}
    if hint:
        block["hint"] = {"type": "plain_text", "text": hint}
    return block


def settings_modal(prefs: ProgrammeSettings, questions: dict[str, str]) -> dict[str, Any]:
    """Owners' settings: every field pre-filled with the value in force."""
    kudos_channel: dict[str, Any] = {"type": "conversations_select", "action_id": "v",
                                     "filter": {"include": ["public", "private"]}}
    if prefs.kudos_channel:
        kudos_channel["initial_conversation"] = prefs.kudos_channel
    champions: dict[str, Any] = {"type": "multi_conversations_select", "action_id": "v",
                                 "filter": {"include": ["public", "private"]}}
    if prefs.champion_channels:
        champions["initial_conversations"] = list(prefs.champion_channels)
    q_options = [{"text": {"type": "plain_text", "text": text[:75]}, "value": key}
                 for key, text in questions.items()]
    q_element: dict[str, Any] = {"type": "checkboxes", "action_id": "v", "options": q_options}
    chosen = [o for o in q_options if o["value"] in prefs.poll_questions]
    if chosen:
        q_element["initial_options"] = chosen
    reaction_opt = {"text": {"type": "plain_text", "text": "Count an emoji reaction as kudos"},
                    "value": "on"}
    reaction: dict[str, Any] = {"type": "checkboxes", "action_id": "v",
                                "options": [reaction_opt]}
    if prefs.reaction_kudos:
        reaction["initial_options"] = [reaction_opt]
    blocks: list[dict[str, Any]] = [
        {"type": "input", "block_id": "kudos_channel", "optional": True, "element": kudos_channel,
         "label": {"type": "plain_text", "text": "Kudos channel"}},
        {"type": "input", "block_id": "champion_channels", "optional": True,
         "element": champions, "label": {"type": "plain_text", "text": "Champion channels"}},
        {"type": "input", "block_id": "poll_questions", "optional": True, "element": q_element,
         "label": {"type": "plain_text", "text": "Poll questions"}},
        _text_input("poll_schedule", "Cadence", "\n".join(prefs.poll_schedule),
                    "One line per question, e.g. helped=mon 10:00 (mon|thu for two days)", True),
        _text_input("poll_sample_fraction", "Sample size per round (%)",
                    str(round(prefs.poll_sample_fraction * 100))),
        _text_input("quiet_hours", "Quiet hours (no DMs)", prefs.quiet_hours,
                    "From-to hours, e.g. 20-8, or off"),
        _text_input("analysis_window_days", "Analysis window (days)",
                    str(prefs.analysis_window_days)),
        _text_input("min_group_size", "Minimum group size", str(prefs.min_group_size),
                    "No figure is shown for a smaller group"),
        _text_input("kudos_daily_cap", "Kudos per person per day", str(prefs.kudos_daily_cap)),
        {"type": "input", "block_id": "reaction_kudos", "optional": True, "element": reaction,
         "label": {"type": "plain_text", "text": "Reaction kudos"}},
        _text_input("reaction_emoji", "Reaction emoji", prefs.reaction_emoji),
        _text_input("digest_schedule", "Champion digest cadence", prefs.digest_schedule,
                    "Weekly, in the champion channels: a day and a time, e.g. mon 09:00, "
                    "or off"),
        _text_input("nudge_schedule", "Champion nudge cadence", prefs.nudge_schedule,
                    "At most one nudge a week per champion, e.g. mon 09:00, or off"),
        _text_input("working_hours", "Champions' working hours", prefs.working_hours,
                    "Nudges arrive only then, in each champion's own timezone, "
                    "e.g. mon-fri 9-17"),
        _text_input("nudge_holdout", "Suggestions held back (%)",
                    str(round(prefs.nudge_holdout * 100)),
                    "Share of suggestions withheld at random to measure whether nudges work"),
    ]
    return {"type": "modal", "callback_id": SETTINGS_MODAL,
            "title": {"type": "plain_text", "text": "PeerPulse settings"},
            "submit": {"type": "plain_text", "text": "Save"},
            "close": {"type": "plain_text", "text": "Cancel"}, "blocks": blocks}


def read_settings_modal(view: dict[str, Any]) -> dict[str, Any]:
    """The raw values of a submitted settings modal, keyed by block id."""
    raw: dict[str, Any] = {}
    for block_id, actions in ((view.get("state") or {}).get("values") or {}).items():
        el = actions.get("v") or {}
        kind = el.get("type")
        if kind == "conversations_select":
            raw[block_id] = el.get("selected_conversation")
        elif kind == "multi_conversations_select":
            raw[block_id] = el.get("selected_conversations") or []
        elif kind == "checkboxes":
            chosen = [o.get("value") for o in el.get("selected_options") or []]
            raw[block_id] = ("on" in chosen) if block_id == "reaction_kudos" else chosen
        else:
            raw[block_id] = el.get("value") or ""
    return raw


def owner_home(dash: Dashboard, history: KudosHistory) -> dict[str, Any]:
    """An owner's App Home: headline figures, trend, last snapshot, buttons; then their own."""
    buttons = {"type": "actions", "block_id": "owner_actions", "elements": [
        {"type": "button", "action_id": OWNER_SNAPSHOT, "style": "primary",
         "text": {"type": "plain_text", "text": "Take a snapshot"}, "value": "snapshot"},
        {"type": "button", "action_id": OWNER_EXPORT,
         "text": {"type": "plain_text", "text": "Export CSV"}, "value": "export"},
    ]}
    extra = [section(render("home_dashboard.j2", d=dash)), buttons, divider()]
    view = personal_home(history, extra_blocks=extra)
    view["blocks"][0] = header("PeerPulse — programme dashboard")
    return view


def forget_confirm_blocks() -> list[dict[str, Any]]:
    return [section(render("network_simple.j2", what="forget_confirm")),
            {"type": "actions", "block_id": "forget", "elements": [
                {"type": "button", "action_id": FORGET_CONFIRM, "style": "danger",
                 "text": {"type": "plain_text", "text": "Erase my data"}, "value": "erase",
                 "confirm": {"title": {"type": "plain_text", "text": "Erase for good?"},
                             "text": {"type": "plain_text", "text": "This cannot be undone."},
                             "confirm": {"type": "plain_text", "text": "Erase"},
                             "deny": {"type": "plain_text", "text": "Keep"}}}]}]


# Poll DMs ------------------------------------------------------------------------------

POLL_PICK, POLL_NOBODY = "poll_pick", "poll_nobody"
POLL_PAUSE, POLL_RESUME = "poll_pause", "poll_resume"


def poll_message(request_id: int, question: str, first_name: str, closes_at: datetime, *,
                 max_named: int, reminder: bool = False) -> tuple[str, list[dict[str, Any]]]:
    """A poll DM (or its reminder): the question, the picker and two buttons.

    The block id carries the request id, so a click finds its poll.
    """
    text = render("poll_question.j2", question=question, first_name=first_name,
                  reminder=reminder, max_named=max_named)
    blocks: list[dict[str, Any]] = [
        section(text),
        {
            "type": "actions",
            "block_id": f"poll:{request_id}",
            "elements": [
                {"type": "multi_users_select", "action_id": POLL_PICK,
                 "max_selected_items": max_named,
                 "placeholder": {"type": "plain_text", "text": f"Choose up to {max_named} people"}},
                {"type": "button", "action_id": POLL_NOBODY, "value": str(request_id),
                 "text": {"type": "plain_text", "text": "Nobody this time"}},
                {"type": "button", "action_id": POLL_PAUSE, "value": str(request_id),
                 "text": {"type": "plain_text", "text": "Pause polls for me"}},
            ],
        },
        context(render("poll_footer.j2", closes=closes_at.strftime("%A %d %B"))),
    ]
    return f"{question} (PeerPulse poll)", blocks


def answered_message(result: Answered) -> dict[str, Any]:
    """What the poll DM becomes once answered (for chat.update)."""
    text = render("poll_answered.j2", answer=result.answer, named=list(result.named),
                  question=result.question.text)
    blocks: list[dict[str, Any]] = [section(text)]
    if result.answer == "paused":
        blocks.append({"type": "actions", "block_id": f"poll:{result.request_id}", "elements": [
            {"type": "button", "action_id": POLL_RESUME, "value": str(result.request_id),
             "text": {"type": "plain_text", "text": "Resume polls"}}]})
    return {"text": text, "blocks": blocks}


# Champions: the digest and the nudge -------------------------------------------------

SUGGESTION_DONE, SUGGESTION_SNOOZE = "suggestion_done", "suggestion_snooze"
SUGGESTION_NOT_USEFUL = "suggestion_not_useful"
SUGGESTION_ACTIONS = {SUGGESTION_DONE: "done", SUGGESTION_SNOOZE: "snooze",
                      SUGGESTION_NOT_USEFUL: "not_useful"}
_SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None]) -> str:
    """Shares (0-1) as a row of bars; unknown values are left out.

    >>> sparkline([0.1, 0.5, None, 1.0])
    '▁▅█'
    """
    return "".join(_SPARK[min(7, int(v * 8))] for v in values if v is not None)


def digest_message(figures: dict[str, Any], trend: list[float | None], period: str
                   ) -> tuple[str, list[dict[str, Any]]]:
    """The champion digest: one section per theme, aggregates only."""
    end = datetime.fromisoformat(figures["end"]).strftime("%-d %B %Y")
    now = figures.get("reach_two")
    before = next((v for v in reversed(trend) if v is not None), None)
    change = now - before if now is not None and before is not None else None
    spark = sparkline([*trend, now]) if len([v for v in trend if v is not None]) else ""

    def part(name: str) -> str:
        return render("digest_part.j2", part=name, f=figures, end=end, change=change,
                      spark=spark)

    title = part("title")
    blocks = [header(title), *(section(part(p)) for p in
                               ("activity", "ties", "reach", "unreached", "kudos")),
              context(part("footer"))]
    for i, block in enumerate(blocks):
        block["block_id"] = f"digest:{period}:{i}"
    return title, blocks


def digest_picture_comment(figures: dict[str, Any]) -> str:
    end = datetime.fromisoformat(figures["end"]).strftime("%-d %B %Y")
    return render("digest_part.j2", part="picture", f=figures, end=end, change=None,
                  spark="")


def nudge_message(plan: Any) -> tuple[str, list[dict[str, Any]]]:
    """A champion's nudge: their reach, then each suggestion with Done / Snooze / Not useful
    (the block id carries the suggestion's id once it is recorded)."""
    intro = render("nudge_intro.j2", p=plan)
    blocks: list[dict[str, Any]] = [section(intro)]
    for i, s in enumerate(plan.shown):
        blocks.append(section(render("nudge_suggestion.j2", s=s)))
        ident = str(s.id) if s.id is not None else f"draft-{i}"
        blocks.append({"type": "actions", "block_id": f"suggestion:{ident}", "elements": [
            {"type": "button", "action_id": SUGGESTION_DONE, "style": "primary",
             "value": ident, "text": {"type": "plain_text", "text": "Done"}},
            {"type": "button", "action_id": SUGGESTION_SNOOZE, "value": ident,
             "text": {"type": "plain_text", "text": "Snooze"}},
            {"type": "button", "action_id": SUGGESTION_NOT_USEFUL, "value": ident,
             "text": {"type": "plain_text", "text": "Not useful"}},
        ]})
    blocks.append(context(render("nudge_footer.j2")))
    return "Your PeerPulse nudge for this week", blocks


def suggestion_answered(blocks: list[dict[str, Any]], suggestion_id: int, answer: str
                        ) -> list[dict[str, Any]]:
    """The nudge's blocks with one suggestion's buttons replaced by the answer given."""
    said = context(render("nudge_answered.j2", answer=answer))
    said["block_id"] = f"suggestion:{suggestion_id}"
    return [said if b.get("block_id") == f"suggestion:{suggestion_id}" else b for b in blocks]
