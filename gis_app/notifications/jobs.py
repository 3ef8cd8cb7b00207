"""Notification jobs: e-mails sent away from the request that raised the notices (a fire alarm's webhook, a step of a
hazard's way to close-out)."""

from gis_app.jobs.registry import handler

from .services import email_new


@handler("notifications.email")
def email(job, progress):
    """通知邮件: the notices named by the job, each e-mailed once (a retry sends only what is still unsent)."""
    ids = [int(i) for i in job.params.get("ids", [])]
    sent = email_new(ids)
    progress(len(ids), len(ids), f"已发送 {sent} 封")
    return {"notices": len(ids), "emailed": sent}
