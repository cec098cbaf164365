"""The rules planner reads every ShapesEval prompt exactly as its GenEval metadata says."""

from limner.agent.planners.rules import RulesPlanner
from limner.tools.shapes.suite import load_suite


def expected(metadata):
    objects = {(c["class"], c["count"], c.get("color")) for c in metadata["include"]}
    relations = {(metadata["include"][1]["class"], c["position"][0], metadata["include"][c["position"][1]]["class"])
                 for c in metadata["include"] if "position" in c}
    return objects, relations


def test_rules_planner_matches_the_metadata_of_the_whole_suite():
    planner = RulesPlanner()
    suite = load_suite()
    for metadata in suite:
        plan = planner.plan(metadata["prompt"])
        objects = {(o.name, o.count, o.color) for o in plan.objects}
        relations = {(plan.objects[r.subject].name, r.relation, plan.objects[r.object].name) for r in plan.relations}
        assert (objects, relations) == expected(metadata), metadata["prompt"]
    assert len(suite) >= 150
