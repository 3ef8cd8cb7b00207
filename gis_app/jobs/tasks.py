"""The platform's Procrastinate tasks (found by PROCRASTINATE_AUTODISCOVER_MODULE_NAME): one that runs a Job, and the
housekeeping every 15 seconds. What a job does is its handler's (gis_app.jobs.registry); what users see is the Job row."""

from procrastinate import BaseRetryStrategy, RetryDecision
from procrastinate.contrib.django import app

from . import services


class WhenAsked(BaseRetryStrategy):
    """A job is retried only when `execute` asks (services.Retry, raised while attempts are left), after the back-off
    it names; anything else that escapes it (the database gone mid-job) is left to the stalled-job recovery."""

    def get_retry_decision(self, *, exception: BaseException, job) -> RetryDecision | None:
        if isinstance(exception, services.Retry):
            return RetryDecision(retry_in={"seconds": exception.seconds})
        return None


@app.task(name=services.RUN_TASK, retry=WhenAsked())
def run(job_id: int) -> None:
    services.execute(job_id)


@app.periodic(cron="* * * * * */15", periodic_id="housekeeping")  # croniter's sixth field: seconds
@app.task(name="jobs.housekeeping", queueing_lock="jobs.housekeeping")
def housekeeping(timestamp: int) -> None:
    services.housekeeping()
