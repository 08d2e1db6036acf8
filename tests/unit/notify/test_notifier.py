"""The Notifier's one language rule: who is told, in which language."""

from notify.notifier import Contact, recipient_for


def test_the_accounts_language_wins_over_the_subscribers():
    """An account set to English gets English emails even when its
    subscriber's own preference is Romanian (the contract is with the account)."""
    recipient = recipient_for(Contact(account_id=7, email="ana@example.ro",
                                      account_language="en", subscriber_language="ro"))
    assert (recipient.account_id, recipient.email, recipient.language) == (7, "ana@example.ro", "en")


def test_the_subscribers_language_applies_when_the_account_has_none():
    recipient = recipient_for(Contact(account_id=7, email="ana@example.ro",
                                      account_language=None, subscriber_language="en-GB"))
    assert recipient.language == "en"


def test_an_unsupported_language_falls_back_to_romanian():
    recipient = recipient_for(Contact(account_id=None, email="ana@example.ro",
                                      account_language="de", subscriber_language="en"))
    assert recipient.language == "ro"
