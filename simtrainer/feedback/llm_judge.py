"""An LLM judge for the DEAR MAN and CTRS rubrics, for a configured model that can follow a rubric.

Off by default: the embedded SmolLM2-135M cannot code through JSON (it called a confrontation a complex
reflection), so the default scorers are trained. With `[feedback] judge = "llm"` and a larger model (a GGUF by
path or a server), each trainee turn is judged through the `ChatBackend`'s schema-constrained JSON; the
session summary keeps the trained scorers' shape, and every code names the judge as its scorer.
"""

from __future__ import annotations

from typing import Any

from simtrainer.feedback.base import Code, TurnView
from simtrainer.llm.base import ChatBackend, GenParams
from simtrainer.rubrics import Rubric


class LLMJudge:
    def __init__(self, rubric: Rubric, backend: ChatBackend, summarizer):
        self.rubric = rubric.id
        self.rubric_def = rubric
        self.backend = backend
        self.summarizer = summarizer  # the trained scorer's summarize(): same code ids, same summary
        self.scorer = f"llm-judge ({backend.label})"
        ids = [item.id for item in rubric.items]
        self.schema = {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": {"type": "string", "enum": ids}},
                "evidence": {"type": "string"},
                "level": {"type": "integer", "minimum": 0, "maximum": 6},
            },
            "required": ["items", "evidence", "level"],
        }

    def _messages(self, text: str, context: str | None, earlier: str | None) -> list[dict[str, str]]:
        items = "\n".join(f"- {i.id}: {i.description}" for i in self.rubric_def.items)
        return [
            {"role": "system", "content": f"You rate a counselling trainee's single turn against {self.rubric_def.name}. "
             "Answer in JSON: the ids of the items this turn clearly shows (possibly none), the words that show "
             "them, and the skill level 0-6."},
            {"role": "user", "content": f"Items:\n{items}\n\n"
             + (f"The trainee had said: {earlier}\n" if earlier else "")
             + f"The other person said: {context or '(nothing yet)'}\nThe trainee said: {text}"},
        ]

    def code(self, text: str, context: str | None = None, earlier: str | None = None) -> list[Code]:
        answer = self.backend.json(self._messages(text, context, earlier), self.schema,
                                   GenParams(max_tokens=160, temperature=0.0))
        known = {item.id for item in self.rubric_def.items}
        evidence = str(answer.get("evidence", ""))[:200]
        level = int(answer.get("level", 0) or 0)
        codes = []
        for item_id in dict.fromkeys(answer.get("items", [])):
            if item_id in known:
                detail = str(max(0, min(6, level))) if self.rubric == "ctrs" else ""
                codes.append(Code(self.rubric, item_id, item_id, None, detail, self.scorer,
                                  f'{self.rubric_def.item(item_id).name}: "{evidence}"'))
        return codes

    def summarize(self, turns: list[TurnView]) -> dict[str, Any]:
        return self.summarizer(turns)
