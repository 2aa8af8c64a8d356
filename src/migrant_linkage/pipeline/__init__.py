"""The stages after the records are standardized and the model chosen, shared by every front
end (engine's dedupe / link / explain, privacy's encoded linkage, the index's uploads):

* `scoring`: scoring settings, block and predict (Splink);
* `migrant_linkage.zones.Routing`: guards, zone and grade of each scored pair (SQL derived
  from the model's level labels, see levels.py);
* `clusters`: components over match-zone pairs, conflicts, missing edges, split;
* `worklist`: the pairs a person decides, with one set of reason texts;
* `run`: the stages chained, and the run folder written (`Result`).
"""

from migrant_linkage.pipeline.result import Result
from migrant_linkage.pipeline.run import Progress, Stages, run_stages

__all__ = ["Progress", "Result", "Stages", "run_stages"]
