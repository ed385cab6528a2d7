"""The e-mail channel's pure parts: mails read (clients' real shapes), the loop guard, the
reply mail (threading headers, numbered choices)."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from connectors.email.attachments import REFERENCE_PREFIX, AttachmentStore
from connectors.email.output import EmailConfigError, SmtpSettings, Thread, transient
from connectors.email.parse import (
    Attachment,
    address_of,
    auto_reply_reason,
    chosen_number,
    conversation_id,
    html_to_text,
    parse_mail,
    reply_text,
)
from connectors.email.render import Part, part_of, render_body, reply_mail
from tests.support.mail import citizen_mail

QUESTION = "Bagaimana cara reset password SAKTI? User saya terkunci."


# ----------------------------------------------------------------- reply text


def test_gmail_reply_keeps_only_the_new_text() -> None:
    body = (
        f"{QUESTION}\n\n"
        "On Mon, 6 May 2024 at 09:12, Helpdesk DJPb <\nhelpdesk@djpb.test> wrote:\n\n"
        "> Selamat pagi, ada yang bisa kami bantu?\n> \n"
    )
    assert reply_text(body) == QUESTION


def test_indonesian_gmail_header_pada_menulis() -> None:
    body = (
        f"{QUESTION}\n\n"
        "Pada tanggal Sen, 6 Mei 2024 pukul 09.12 Helpdesk DJPb <helpdesk@djpb.test>\n"
        "menulis:\n\n"
        "> Selamat pagi\n"
    )
    assert reply_text(body) == QUESTION


def test_outlook_original_message_and_header_blocks() -> None:
    original = f"{QUESTION}\n\n-----Original Message-----\nFrom: Helpdesk\nSent: Monday\n\nHalo"
    assert reply_text(original) == QUESTION
    block = (
        f"{QUESTION}\n\n________________________________\n"
        "From: Helpdesk DJPb <helpdesk@djpb.test>\nSent: Monday, May 6, 2024 9:12 AM\n"
        "To: Budi\nSubject: Re: Pertanyaan\n\nSelamat pagi"
    )
    assert reply_text(block) == QUESTION
    indonesian = f"{QUESTION}\n\nDari: Helpdesk DJPb\nDikirim: Senin\nKepada: Budi\n\nHalo"
    assert reply_text(indonesian) == QUESTION


def test_apple_mail_and_signatures() -> None:
    apple = (
        f"{QUESTION}\n\nSent from my iPhone\n\n"
        "> On 6 May 2024, at 09:12, Helpdesk <helpdesk@djpb.test> wrote:\n> \n> Halo\n"
    )
    assert reply_text(apple) == QUESTION
    assert reply_text(f"{QUESTION}\n\nDikirim dari iPhone saya") == QUESTION
    assert reply_text(f"{QUESTION}\n-- \nBudi Santoso\nSatker 123456") == QUESTION


def test_a_sign_off_drops_only_a_short_name_block() -> None:
    text = f"Selamat pagi,\n{QUESTION}\n\nTerima kasih,\nBudi Santoso\nBendahara Satker"
    assert reply_text(text) == f"Selamat pagi,\n{QUESTION}"
    # A sign-off followed by more content is not a signature: nothing is lost.
    long_text = f"{QUESTION}\n\nSalam,\n" + "\n".join(f"baris isi ke-{i}" for i in range(6))
    assert reply_text(long_text) == long_text
    # A mail that is only thanks stays thanks.
    assert reply_text("Terima kasih,\nBudi") == "Terima kasih,\nBudi"


def test_lists_and_inline_text_are_kept() -> None:
    text = "Data saya:\n- NIP 198701012010011001\n- Satker 123456\nMohon dicek."
    assert reply_text(text) == text


def test_html_only_mail_without_gmail_quote() -> None:
    html = (
        "<html><head><style>p{color:red}</style></head><body>"
        "<div dir='ltr'>Apa itu <b>SP2D</b>?<br>Mohon penjelasannya.</div>"
        "<div class='gmail_quote'><div>On Mon wrote:</div><blockquote>Halo</blockquote></div>"
        "</body></html>"
    )
    assert html_to_text(html) == "Apa itu SP2D?\nMohon penjelasannya."


# ----------------------------------------------------------------- mails


def test_a_plain_mail() -> None:
    raw, message_id = citizen_mail(QUESTION)
    mail = parse_mail(raw)
    assert mail.sender == "budi@contoh.go.id"
    assert mail.sender_name == "Budi Santoso"
    assert mail.message_id == message_id
    assert mail.text == QUESTION
    assert mail.thread_root == message_id
    assert mail.conversation == conversation_id("budi@contoh.go.id", message_id)
    assert address_of(mail.conversation) == "budi@contoh.go.id"
    assert mail.auto_reason is None


def test_a_reply_joins_the_thread_of_its_root() -> None:
    first, root = citizen_mail("halo")
    reply, _ = citizen_mail(
        "2", in_reply_to="<ours@djpb.test>", references=f"{root} <ours@djpb.test>"
    )
    assert parse_mail(reply).thread_root == root
    assert parse_mail(reply).conversation == parse_mail(first).conversation
    other, _ = citizen_mail("pertanyaan baru")  # a new mail: a new conversation
    assert parse_mail(other).conversation != parse_mail(first).conversation
    assert address_of(parse_mail(other).conversation) == "budi@contoh.go.id"


def test_encoded_headers_and_a_latin1_body() -> None:
    raw = (
        b"From: =?utf-8?b?U2l0aSBOdXJoYWxpemE=?= <SITI@Contoh.GO.id>\r\n"
        b"Subject: =?utf-8?q?Pertanyaan_tentang_gaji_=E2=80=93_Mei?=\r\n"
        b"Message-ID: <enc-1@contoh.go.id>\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"Gaji bulan Mei belum masuk, caf=E9 tutup.\r\n"
    )
    mail = parse_mail(raw)
    assert mail.sender == "siti@contoh.go.id"
    assert mail.sender_name == "Siti Nurhaliza"
    assert mail.subject == "Pertanyaan tentang gaji – Mei"
    assert mail.text == "Gaji bulan Mei belum masuk, café tutup."


def test_multipart_with_html_alternative_and_attachment() -> None:
    message = EmailMessage()
    message["From"] = "budi@contoh.go.id"
    message["Subject"] = "Lampiran SPM"
    message["Message-ID"] = "<att-1@contoh.go.id>"
    message.set_content("Berikut lampiran SPM saya.")
    message.add_alternative("<p>Berikut lampiran <b>SPM</b> saya.</p>", subtype="html")
    message.add_attachment(
        b"%PDF-1.4 test", maintype="application", subtype="pdf", filename="spm.pdf"
    )
    mail = parse_mail(bytes(message))
    assert mail.text == "Berikut lampiran SPM saya."
    assert [(a.filename, a.content_type, a.data) for a in mail.attachments] == [
        ("spm.pdf", "application/pdf", b"%PDF-1.4 test")
    ]


def test_a_mail_with_only_a_subject_gives_the_subject() -> None:
    raw, _ = citizen_mail("", subject="Re: Cara cek status SP2D")
    assert parse_mail(raw).text == "Cara cek status SP2D"


def test_malformed_mail_is_read_without_raising() -> None:
    raw = (
        b"From: not an address\r\nSubject: \xff\xfe broken\r\n"
        b"Content-Type: text/plain; charset=x-unknown\r\n\r\nisi \xff pesan\r\n"
    )
    mail = parse_mail(raw)
    assert mail.sender == ""  # not answered: flagged for a person
    assert mail.message_id.endswith("@no-message-id.invalid>")
    assert parse_mail(raw).message_id == mail.message_id  # stable: a re-delivery is known
    assert "isi" in mail.text and "pesan" in mail.text
    assert parse_mail(b"").sender == ""


def test_long_message_ids_are_hashed_for_the_claim() -> None:
    raw, _ = citizen_mail("halo", message_id="<" + "x" * 300 + "@contoh.go.id>")
    key = parse_mail(raw).claim_key
    assert key.startswith("sha256:") and len(key) < 100


# ----------------------------------------------------------------- loop guard


@pytest.mark.parametrize(
    ("headers", "sender", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, "budi@contoh.go.id", "auto-submitted"),
        (
            {"Auto-Submitted": "auto-generated; type=vacation"},
            "budi@contoh.go.id",
            "auto-submitted",
        ),
        ({"Precedence": "bulk"}, "budi@contoh.go.id", "precedence"),
        ({"Precedence": "auto_reply"}, "budi@contoh.go.id", "precedence"),
        ({"X-Autoreply": "yes"}, "budi@contoh.go.id", "auto-reply header"),
        ({"X-Autorespond": "1"}, "budi@contoh.go.id", "auto-reply header"),
        ({"List-Id": "<info.contoh.go.id>"}, "budi@contoh.go.id", "mailing list"),
        ({"List-Unsubscribe": "<mailto:x@y>"}, "budi@contoh.go.id", "mailing list"),
        ({"Return-Path": "<>"}, "budi@contoh.go.id", "null sender"),
        ({}, "MAILER-DAEMON@mail.contoh.go.id", "system sender"),
        ({}, "postmaster@contoh.go.id", "system sender"),
        ({}, "no-reply@contoh.go.id", "system sender"),
        ({}, "noreply+abc@contoh.go.id", "system sender"),
        ({}, "Helpdesk@DJPB.test", "own address"),
    ],
)
def test_automatic_mails_are_never_answered(headers, sender, reason) -> None:
    raw, _ = citizen_mail("Saya sedang cuti", sender=sender, headers=headers)
    assert parse_mail(raw, own_addresses=["helpdesk@djpb.test"]).auto_reason == reason


def test_a_person_s_mail_passes_the_guard() -> None:
    raw, _ = citizen_mail(QUESTION, headers={"Auto-Submitted": "no", "Precedence": "normal"})
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert auto_reply_reason(message, ["helpdesk@djpb.test"]) is None


def test_a_delivery_report_is_never_answered() -> None:
    raw = (
        b"From: budi@contoh.go.id\r\nMessage-ID: <dsn@x>\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nundeliverable\r\n--b--\r\n"
    )
    assert parse_mail(raw).auto_reason == "delivery report"


# ----------------------------------------------------------------- rendering


def test_numbered_choices_and_the_payloads_they_stand_for() -> None:
    parts = [
        part_of({"text": "Selamat pagi, Budi."}),
        part_of(
            {
                "text": "Apakah jawaban ini membantu?",
                "buttons": [
                    {"title": "Ya", "payload": "/affirm"},
                    {"title": "Tidak", "payload": "/deny"},
                ],
            }
        ),
        part_of({"image": "https://contoh.go.id/panduan.png"}),
    ]
    body, payloads = render_body(parts)
    assert payloads == ["/affirm", "/deny"]
    assert "Selamat pagi, Budi." in body
    assert "1. Ya\n2. Tidak" in body
    assert "Gambar: https://contoh.go.id/panduan.png" in body
    assert body.index("Selamat pagi") < body.index("Apakah jawaban")
    assert render_body([Part()]) == ("", [])


def test_the_reply_mail_keeps_the_thread_and_is_marked_automatic() -> None:
    message = reply_mail(
        "Halo",
        sender="helpdesk@djpb.test",
        to="budi@contoh.go.id",
        subject="RE: Re: Pertanyaan SP2D",
        in_reply_to="<2@contoh.go.id>",
        references=["<1@contoh.go.id>", "<ours@djpb.test>"],
        sender_name="Helpdesk DJPb",
    )
    assert message["Subject"] == "Re: Pertanyaan SP2D"
    assert message["In-Reply-To"] == "<2@contoh.go.id>"
    assert message["References"] == "<1@contoh.go.id> <ours@djpb.test> <2@contoh.go.id>"
    assert message["Auto-Submitted"] == "auto-replied"
    assert str(message["Message-ID"]).endswith("@djpb.test>")
    assert message["From"] == "Helpdesk DJPb <helpdesk@djpb.test>"


@pytest.mark.parametrize(
    ("text", "number"),
    [("2", 2), (" 3. ", 3), ("1)", 1), ("12", 12), ("2 saja", None), ("tiga", None), ("", None)],
)
def test_a_bare_number(text, number) -> None:
    assert chosen_number(text) == number


# ----------------------------------------------------------------- attachments and settings


def test_attachments_are_checked_and_kept_once(tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path / "att")
    kept = store.keep(
        [
            Attachment("bukti.pdf", "application/pdf", b"%PDF bukti"),
            Attachment("virus.exe", "application/x-msdownload", b"MZ"),
            Attachment("foto.png", "application/pdf", b"%PDF disguised"),
            Attachment("besar.pdf", "application/pdf", b"0" * (10 * 1024 * 1024 + 1)),
            Attachment("bukti-lagi.pdf", "application/pdf", b"%PDF bukti"),
        ]
    )
    assert [k.reason for k in kept] == [
        "",
        "type not accepted",
        "type not accepted",
        "too large",
        "",
    ]
    assert kept[0].reference.startswith(REFERENCE_PREFIX)
    assert kept[0].reference == kept[4].reference  # the same file is kept once
    path = store.path_of(kept[0].reference)
    assert path is not None and path.read_bytes() == b"%PDF bukti"
    assert store.path_of("email-att:../../etc") is None


def test_smtp_settings_and_transient_errors() -> None:
    import smtplib

    with pytest.raises(EmailConfigError):
        SmtpSettings("smtp.contoh.go.id", security="tls13")
    assert transient(smtplib.SMTPServerDisconnected())
    assert transient(smtplib.SMTPDataError(451, b"try later"))
    assert not transient(smtplib.SMTPDataError(554, b"rejected"))
    assert not transient(smtplib.SMTPAuthenticationError(535, b"bad"))
    assert Thread.from_json(Thread("a@b.c", "S", "<1@b>", ("<0@b>",)).to_json()).references == (
        "<0@b>",
    )


def test_make_run_adds_the_channel_when_its_host_is_set(tmp_path: Path) -> None:
    from scripts import run_plan

    env = {"EMAIL_IMAP_HOST": "imap.contoh.go.id", "EMAIL_ADDRESS": "helpdesk@contoh.go.id"}
    path, enabled = run_plan.write_credentials(env, tmp_path)
    text = path.read_text(encoding="utf-8")
    assert "email" in enabled
    assert "connectors.email.EmailInput:" in text
    assert "  imap_host: ${EMAIL_IMAP_HOST}" in text
    assert "smtp_password" not in text  # unset optional keys keep the channel's default
    _, none = run_plan.write_credentials({"EMAIL_ADDRESS": "x@y.z"}, tmp_path)
    assert "email" not in none
