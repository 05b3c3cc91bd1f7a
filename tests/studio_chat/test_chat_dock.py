"""The Chat dock (offscreen Qt) on a real backend: markup from a fan is shown as literal text,
the artist deletes and mutes from the context menu, the state text says when there is no chat."""

from PySide6.QtWidgets import QLabel, QListWidgetItem

from studio.social.chat_room import ChatRoom
from tests.studio_chat.conftest import Backend, wait_until
from widgets.social.chat_dock import ChatDock

HOSTILE = '<b>bold</b> <img src="http://example.invalid/x.png"> <a href="x">link</a> &amp;'


def item_with(dock: ChatDock, fragment: str) -> QListWidgetItem:
    for row in range(dock.messages.count()):
        if fragment in dock.messages.item(row).text():
            return dock.messages.item(row)
    raise AssertionError(f"no message containing {fragment!r} in {dock.texts()}")


async def test_dock_shows_markup_as_text_and_the_artist_deletes_and_mutes(
    qtbot, backend: Backend, clients
) -> None:  # type: ignore[no-untyped-def]
    artist = await clients("artist", "Ada")
    fan = await clients("fan", "<i>Bo</i>")
    room = ChatRoom(artist)
    dock = ChatDock(room)
    qtbot.addWidget(dock)
    assert "Not live" in dock.state_label.text()
    assert not dock.send_button.isEnabled() and not dock.input.isEnabled()
    for label in dock.findChildren(QLabel):
        assert label.textFormat().name == "PlainText"

    stream = await artist.go_live("Dock test")
    room.open(stream)
    try:
        await wait_until(lambda: room.state == "open", what="the chat to open")
        assert dock.state_label.text() == "Chat is open." and dock.send_button.isEnabled()
        sent = await fan.send_chat(stream.id, HOSTILE)
        await wait_until(lambda: dock.messages.count() == 1, what="the fan's message")
        assert dock.texts() == [f"<i>Bo</i>: {HOSTILE}"]  # literal: nothing interpreted

        dock.input.setText("welcome <b>all</b>")
        dock.send()
        await wait_until(lambda: dock.messages.count() == 2, what="the artist's message")
        assert dock.texts()[1] == "Ada (you): welcome <b>all</b>"
        assert dock.input.text() == ""

        menu = dock.menu_for(item_with(dock, "bold"))
        delete, mute = menu.actions()
        assert delete.text() == "Delete message" and delete.isEnabled()
        assert mute.text().startswith("Mute 0x") and mute.isEnabled()
        mute.trigger()
        await wait_until(lambda: fan.address in room.muted, what="the mute")
        delete.trigger()
        await wait_until(lambda: dock.messages.count() == 1, what="the deletion")
        assert dock.texts() == ["Ada (you): welcome <b>all</b>"]
        assert sent.id not in room.messages

        own = dock.menu_for(item_with(dock, "welcome"))
        assert not own.actions()[1].isEnabled()  # the artist cannot mute themselves

        dock.input.setText("x" * 10 + "\x00")  # controls are folded away, not refused
        dock.send()
        await wait_until(lambda: dock.messages.count() == 2, what="the cleaned message")
        assert dock.texts()[1] == "Ada (you): xxxxxxxxxx"
    finally:
        await artist.end_stream(stream.id)
    await wait_until(lambda: room.state == "ended", what="the stream_ended frame")
    assert "ended" in dock.state_label.text() and not dock.send_button.isEnabled()
    await room.close()


async def test_dock_of_a_show_without_sign_in_says_why(qtbot, backend: Backend, clients) -> None:  # type: ignore[no-untyped-def]
    fan = await clients("fan", "Bo")
    room = ChatRoom(fan)
    dock = ChatDock(room)
    qtbot.addWidget(dock)
    room.set_unavailable("The wallet is locked: unlock it to announce your show and open its chat.")
    assert dock.state_label.text().startswith("No chat for this show. The wallet is locked")
    assert not dock.input.isEnabled()
    dock.input.setEnabled(True)
    dock.input.setText("hello?")
    dock.send()
    await wait_until(lambda: dock.notice_label.text() != "", what="the refusal")
    assert "opens when you go live" in dock.notice_label.text()
