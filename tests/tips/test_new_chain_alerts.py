"""A local chain deleted and started anew (another devnet instance id): the studio forgets
the old chain's tips, yet the backend's notification backlog still names them. They are not
shown again; a tip the new chain really holds is, even under an old transaction hash."""

from studio.tips.store import TipStore
from tests.tips.test_tip_alerts import backend_notification, chain_tip, make_alerts

SCOPE = "131277322940537:0x5fbdb2315678afecb367f032d93f642f64180aa3:artist"


def test_old_tips_do_not_replay_as_new_alerts_on_a_new_chain(tip_store: TipStore) -> None:
    assert not tip_store.adopt_chain(SCOPE, "0xg1", "0xinstance1")
    alerts, shown = make_alerts(tip_store)
    tip = chain_tip()
    tip_store.put_tip(SCOPE, tip)  # as the watcher stores a block's tips
    alerts.on_chain_tip(tip)
    alerts.on_backend_notification(backend_notification())
    assert len(shown.alerted) == 1

    assert tip_store.adopt_chain(SCOPE, "0xg2", "0xinstance2"), "the chain was deleted"
    # the studio restarts: the backend's backlog still holds the old chain's tip
    alerts, shown = make_alerts(tip_store)
    alerts.on_backend_frame({"type": "backlog", "notifications": [backend_notification()]})
    assert alerts.on_backend_notification(backend_notification()) is False
    assert shown.alerted == [], "an old tip is not a new alert"

    # the same fan key and nonce can sign the very same transaction on the new chain: the
    # watcher sees it there, and that is a tip to show
    alerts.on_chain_tip(chain_tip(block_number=4))
    assert len(shown.alerted) == 1 and shown.alerted[0].record.block_number == 4
    assert alerts.on_backend_notification(backend_notification()) is False
    assert len(shown.alerted) == 1
