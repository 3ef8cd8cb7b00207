"""The platform's Procrastinate tasks (found by PROCRASTINATE_AUTODISCOVER_MODULE_NAME): one that runs a Job, and the
housekeeping every 15 seconds. What a job does is its handler's (gis_app.jobs.registry); what users see is the Job row."""

from procrastinate import BaseRetryStrategy, RetryDecision
from procrastinate.contrib.django import app

from . import services


class WhenAsked(BaseRetryStrategy):
    """A handler's failure is retried when `execute` asks (services.Retry, raised while the Job has attempts left),
    after the back-off it names. Anything else that escapes `execute` means the Job's outcome could not be recorded
    (the database went away mid-job): the entry runs again shortly, and `claim` counts that as an attempt of the Job,
    failing it once they are spent; a few such rounds at most, in case the fault is not the database's."""

    AFTER_A_LOST_DATABASE = 5  # seconds
    ROUNDS = 10

    def get_retry_decision(self, *, exception: BaseException, job) -> RetryDecision | None:
        if isinstance(exception, services.Retry):
            return RetryDecision(retry_in={"seconds": exception.seconds})
        if isinstance(exception, Exception) and job.attempts < self.ROUNDS:
            return RetryDecision(retry_in={"seconds": self.AFTER_A_LOST_DATABASE})
        return None


@app.task(name=services.RUN_TASK, retry=WhenAsked(), pass_context=True)
def run(context, job_id: int) -> None:
    services.execute(job_id, context.job.id)


@app.periodic(cron="* * * * * */15", periodic_id="housekeeping")  # croniter's sixth field: seconds
@app.task(name="jobs.housekeeping", queueing_lock="jobs.housekeeping", lock="jobs.housekeeping")  # one at a time
def housekeeping(timestamp: int) -> None:
    services.housekeeping()
