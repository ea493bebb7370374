"""The Dask engine of a sweep (see sweep.py): trials as tasks on a Dask cluster, the data on every
worker through a worker plugin."""
import collections
import logging
import uuid
import warnings

import dask
from distributed import Client, LocalCluster, as_completed, get_worker
from distributed.diagnostics.plugin import WorkerPlugin
from distributed.scheduler import KilledWorker

from mlp_scratch.experiments.trials import configure_worker, failure, run_trial
from mlp_scratch.threads import available_cores


class DataOnWorkers(WorkerPlugin):
    """Holds the data and the BLAS threads on each worker. The scheduler keeps the plugin (a copy of
    the data, until the sweep ends) and sets it up on every worker, also one that joins or restarts
    later, so the data is sent once to each and survives a worker's death (scattered data would be
    lost with the last worker holding it).

    ``threads``: an int, or by worker address (1 for a worker that joined later)."""

    def __init__(self, data, threads):
        self.data, self.threads = data, threads

    def setup(self, worker):
        if isinstance(self.threads, dict):
            self.threads = self.threads.get(worker.address, 1)
        configure_worker(self.data, self.threads)


def _run_on_worker(trial, plugin_name, config):
    plugin = get_worker().plugins[plugin_name]
    return run_trial(trial, plugin.data, config, plugin.threads)


class DaskEngine:
    """A LocalCluster of ``workers`` spawned processes on 127.0.0.1 (one trial at a time each), or
    the cluster of a scheduler's address."""

    def __init__(self, data, workers, threads, scheduler):
        self.data, self.workers, self.threads, self.scheduler = data, workers, threads, scheduler
        self._client = self._cluster = self._spawn = None
        self._plugin = f"mlp-scratch-data-{uuid.uuid4().hex}"

    def _start(self):
        if self.scheduler is None:
            # For the cluster's whole life: its nannies read the setting again to restart a worker.
            self._spawn = dask.config.set({"distributed.worker.multiprocessing-method": "spawn"})
            self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                         host="127.0.0.1", dashboard_address=None, silence_logs=logging.WARNING)
            self._client = Client(self._cluster)
        else:
            self._client = Client(self.scheduler)
            self._client.wait_for_workers(1)
            if self.threads is None:
                self.threads = self._threads_by_worker()
        self._client.register_plugin(DataOnWorkers(self.data, self.threads), name=self._plugin)

    def _threads_by_worker(self):
        """Each worker's host's cores over the trials its workers run at once (their threads)."""
        workers = self._client.scheduler_info(n_workers=-1)["workers"]
        if any(info["nthreads"] > 1 for info in workers.values()):
            warnings.warn("some Dask workers run several threads: their trials share one process's BLAS limit "
                          "and the GIL; start workers with --nthreads 1", stacklevel=4)
        host_cores = self._client.run(available_cores)
        slots = collections.Counter()
        for info in workers.values():
            slots[info["host"]] += info["nthreads"]
        return {address: max(1, host_cores[address] // slots[info["host"]]) for address, info in workers.items()
                if address in host_cores}

    def run(self, trial, items):
        """All trials at once; then each one that died with a worker again alone: a worker's death
        also fails the tasks queued on it and the results it held, so only a trial that kills its
        worker when alone is lost."""
        if self._client is None:
            self._start()
        suspects = []
        for key, config, row in self._as_completed(trial, items):
            if row["status"] == "lost":
                suspects.append((key, config))
            else:
                yield key, row
        for item in suspects:
            for key, _, row in self._as_completed(trial, [item]):
                yield key, row

    def _as_completed(self, trial, items):
        """(key, config, row) of each item as its task ends; status "lost" for KilledWorker."""
        futures = {self._client.submit(_run_on_worker, trial, self._plugin, config, pure=False): (key, config)
                   for key, config in items}
        threads = self.threads if isinstance(self.threads, int) else None
        try:
            for future in as_completed(futures):
                try:
                    row = future.result()
                except KilledWorker as error:
                    row = failure("lost", error, threads)
                except Exception as error:  # noqa: BLE001 (a cancelled task, a result that did not arrive)
                    row = failure("error", error, threads)
                future.release()
                yield *futures[future], row
        finally:
            # Trials already running on a cluster's workers finish there; their results are dropped.
            self._client.cancel([future for future in futures if not future.done()])

    def close(self, kill):
        try:
            if self._client is not None and self._cluster is None:
                self._client.unregister_worker_plugin(self._plugin)  # the scheduler's copy of the data
        finally:
            for part in (self._client, self._cluster):
                if part is not None:
                    part.close()
            if self._spawn is not None:
                self._spawn.__exit__(None, None, None)
            self._client = self._cluster = self._spawn = None
