"""The houses and sentences of the three voices-corpus splits (bench/make_voices_corpus.py).

Each split has its own house (areas, light names, satellites) and its own sentences, and
none of them is a house or a sentence of bench/corpus/commands: a recogniser tuned on one
split is reported on speech and names it never saw. The untouched split's lights have
names that are unusual words ("torchiere", "rattan", "pergola").

Commands are sentences Home Assistant 2026's English templates understand: lights by
name, areas by name, the satellite's own area ("switch on the lights"), brightness.
Overheard speech comes close to a command and must change nothing: remarks and stories
with the home's own names, devices the home does not have, a thermostat, negations,
questions, and stories quoting a command. Each overheard sentence sets the lights it
names to the state its quoted action would change, so acting on it shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from bench.make_corpus import light_id


@dataclass(frozen=True, slots=True)
class Sentence:
    """Something said to a satellite: the lights it names before, and where they end."""

    text: str
    area: str
    """The area of the satellite that hears it."""
    initial: dict[str, str]
    expect: dict[str, str]

    @property
    def overheard(self) -> bool:
        """Speech that must change nothing."""
        return self.initial == self.expect


@dataclass(frozen=True, slots=True)
class Split:
    """One split: its house and what is said in it."""

    name: str
    areas: dict[str, list[str]]
    satellite_areas: tuple[str, ...]
    commands: list[Sentence] = field(default_factory=list)
    overheard: list[Sentence] = field(default_factory=list)

    def satellite(self, area: str) -> str:
        """The name of the satellite in an area."""
        if area not in self.satellite_areas:
            raise ValueError(f"split {self.name}: no satellite in {area!r}")
        return f"{area} satellite"

    def lights(self, area: str) -> tuple[str, ...]:
        """The light names of an area."""
        return tuple(self.areas[area])

    def _ids(self, names: tuple[str, ...]) -> list[str]:
        known = {n for names_ in self.areas.values() for n in names_}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(f"split {self.name}: no light {unknown}")
        return [light_id(n) for n in names]

    def on(self, text: str, at: str, *names: str) -> None:
        """A command that switches lights on (they start off)."""
        ids = self._ids(names)
        self.commands.append(
            Sentence(text, at, dict.fromkeys(ids, "off"), dict.fromkeys(ids, "on"))
        )

    def off(self, text: str, at: str, *names: str) -> None:
        """A command that switches lights off (they start on)."""
        ids = self._ids(names)
        self.commands.append(
            Sentence(text, at, dict.fromkeys(ids, "on"), dict.fromkeys(ids, "off"))
        )

    def level(self, text: str, at: str, percent: int, *names: str) -> None:
        """A brightness command; the lights start on at a level far from the target."""
        ids = self._ids(names)
        start = "on@20" if percent >= 50 else "on"
        self.commands.append(
            Sentence(text, at, dict.fromkeys(ids, start), dict.fromkeys(ids, f"on@{percent}"))
        )

    def heard(self, text: str, at: str, state: str = "", *names: str) -> None:
        """Overheard speech; the lights it names start in `state` and must stay so."""
        lights = dict.fromkeys(self._ids(names), state)
        self.overheard.append(Sentence(text, at, lights, dict(lights)))


def _tune() -> Split:
    split = Split(
        "tune",
        {
            "Kitchen": ["Counter Lights", "Pantry Light"],
            "Office": ["Desk Lamp", "Bookcase Light"],
            "Dining Room": ["Chandelier", "Wall Sconces"],
            "Hallway": ["Entry Light"],
        },
        ("Kitchen", "Office", "Dining Room"),
    )
    kitchen, office, dining = (
        split.lights("Kitchen"),
        split.lights("Office"),
        split.lights("Dining Room"),
    )
    split.on("switch on the lights", "Kitchen", *kitchen)
    split.off("turn the lights off", "Office", *office)
    split.level("set the brightness to forty percent", "Dining Room", 40, *dining)
    split.off("lights out", "Kitchen", *kitchen)
    split.level("set the brightness to maximum", "Office", 100, *office)
    split.off("turn off the lights in the dining room", "Kitchen", *dining)
    split.on("turn on the office lights", "Dining Room", *office)
    split.off("switch off the kitchen lights", "Office", *kitchen)
    split.on("turn on the lights in the hallway", "Office", "Entry Light")
    split.level("set the lights in the office to twenty percent", "Kitchen", 20, *office)
    split.level("set the kitchen brightness to seventy percent", "Dining Room", 70, *kitchen)
    split.on("turn on the chandelier", "Kitchen", "Chandelier")
    split.off("turn off the chandelier", "Dining Room", "Chandelier")
    split.on("turn on the desk lamp", "Office", "Desk Lamp")
    split.off("switch off the desk lamp", "Kitchen", "Desk Lamp")
    split.on("turn on the pantry light", "Kitchen", "Pantry Light")
    split.off("turn off the counter lights", "Dining Room", "Counter Lights")
    split.on("turn on the wall sconces", "Office", "Wall Sconces")
    split.off("turn off the entry light", "Kitchen", "Entry Light")
    split.level("set the chandelier to thirty percent", "Dining Room", 30, "Chandelier")
    split.level("set the brightness of the desk lamp to eighty percent", "Office", 80, "Desk Lamp")
    split.level("set the bookcase light to fifty percent", "Kitchen", 50, "Bookcase Light")
    split.off("turn the wall sconces off", "Dining Room", "Wall Sconces")
    split.on("could you turn on the bookcase light", "Office", "Bookcase Light")
    split.on("turn on the pantry light in the kitchen", "Dining Room", "Pantry Light")
    split.level(
        "set the counter lights brightness to sixty percent", "Kitchen", 60, "Counter Lights"
    )

    split.heard("the chandelier was so bright at dinner last night", "Dining Room", "on@50",
                "Chandelier")  # fmt: skip
    split.heard("I left my glasses next to the desk lamp", "Office", "off", "Desk Lamp")
    split.heard("the pantry light has been flickering all week", "Kitchen", "on",
                "Pantry Light")  # fmt: skip
    split.heard("so he shouted turn off the kitchen lights and everybody laughed", "Kitchen",
                "on", *kitchen)  # fmt: skip
    split.heard("we bought the counter lights at a flea market", "Kitchen", "off",
                "Counter Lights")  # fmt: skip
    split.heard("my grandmother always said turn on the lights when you read", "Office",
                "off", *office)  # fmt: skip
    split.heard("turn on the sauna", "Office")
    split.heard("switch off the coffee machine", "Kitchen")
    split.heard("set the thermostat to twenty one degrees", "Dining Room")
    split.heard("don't turn off the chandelier", "Dining Room", "on", "Chandelier")
    split.heard("please don't turn on the office lights yet", "Office", "off", *office)
    split.heard("did you turn on the wall sconces", "Dining Room", "off", "Wall Sconces")
    split.heard("who left the entry light on all night", "Office", "on", "Entry Light")
    return split


def _test() -> Split:
    split = Split(
        "test",
        {
            "Lounge": ["Arc Lamp", "Bookshelf Strip"],
            "Nursery": ["Night Light", "Star Projector"],
            "Garage": ["Workbench Light"],
            "Bathroom": ["Mirror Light", "Vanity Bulbs"],
        },
        ("Lounge", "Nursery", "Garage"),
    )
    lounge, nursery, bathroom = (split.lights(a) for a in ("Lounge", "Nursery", "Bathroom"))
    split.on("turn the lights on", "Lounge", *lounge)
    split.off("switch off the lights", "Nursery", *nursery)
    split.level("set the brightness to thirty percent", "Lounge", 30, *lounge)
    split.on("lights on", "Garage", "Workbench Light")
    split.level("set the workbench light to ninety percent", "Garage", 90, "Workbench Light")
    split.on("turn on the lights in the bathroom", "Nursery", *bathroom)
    split.off("turn off the lounge lights", "Garage", *lounge)
    split.on("switch on the nursery lights", "Lounge", *nursery)
    split.off("turn off the lights in the garage", "Lounge", "Workbench Light")
    split.level("set the lights in the bathroom to sixty percent", "Garage", 60, *bathroom)
    split.level("set the lounge brightness to twenty percent", "Nursery", 20, *lounge)
    split.on("turn on the arc lamp", "Nursery", "Arc Lamp")
    split.off("turn off the arc lamp", "Lounge", "Arc Lamp")
    split.on("turn on the night light", "Nursery", "Night Light")
    split.off("turn off the night light", "Garage", "Night Light")
    split.on("switch on the star projector", "Lounge", "Star Projector")
    split.off("turn off the bookshelf strip", "Lounge", "Bookshelf Strip")
    split.on("turn on the workbench light", "Garage", "Workbench Light")
    split.off("switch off the mirror light", "Nursery", "Mirror Light")
    split.level("set the arc lamp to forty percent", "Lounge", 40, "Arc Lamp")
    split.level(
        "set the brightness of the vanity bulbs to seventy percent", "Garage", 70, "Vanity Bulbs"
    )
    split.level("set the night light to ten percent", "Nursery", 10, "Night Light")
    split.off("turn the star projector off", "Nursery", "Star Projector")
    split.on("can you turn on the vanity bulbs", "Lounge", "Vanity Bulbs")
    split.on("turn on the mirror light in the bathroom", "Garage", "Mirror Light")
    split.level(
        "set the bookshelf strip brightness to eighty percent", "Nursery", 80, "Bookshelf Strip"
    )

    split.heard("the arc lamp looks lovely in the corner", "Lounge", "off", "Arc Lamp")
    split.heard("the baby finally fell asleep under the night light", "Nursery", "on@50",
                "Night Light")  # fmt: skip
    split.heard("I think the workbench light needs a new bulb", "Garage", "on",
                "Workbench Light")  # fmt: skip
    split.heard("and then she said switch off the lounge lights and walked out", "Lounge",
                "on", *lounge)  # fmt: skip
    split.heard("the star projector was a birthday present", "Nursery", "off",
                "Star Projector")  # fmt: skip
    split.heard("my dad used to yell turn off the lights every night", "Garage", "on",
                "Workbench Light")  # fmt: skip
    split.heard("turn on the hot tub", "Lounge")
    split.heard("switch on the dishwasher", "Garage")
    split.heard("turn the heating up to twenty two degrees", "Nursery")
    split.heard("don't switch on the star projector", "Nursery", "off", "Star Projector")
    split.heard("never turn off the mirror light while I'm shaving", "Nursery", "on",
                "Mirror Light")  # fmt: skip
    split.heard("did you switch off the bookshelf strip", "Lounge", "on", "Bookshelf Strip")
    split.heard("why are the vanity bulbs still on", "Garage", "on", "Vanity Bulbs")
    return split


def _untouched() -> Split:
    split = Split(
        "untouched",
        {
            "Den": ["Torchiere", "Tiffany Lamp"],
            "Guest Room": ["Salt Lamp", "Rattan Pendant"],
            "Patio": ["Pergola Lights", "Lanterns"],
            "Studio": ["Easel Lamp", "Neon Sign"],
        },
        ("Den", "Guest Room", "Studio"),
    )
    den, guest, patio, studio = (split.lights(a) for a in ("Den", "Guest Room", "Patio", "Studio"))
    split.on("turn on the lamps", "Den", *den)
    split.off("switch the lights off", "Studio", *studio)
    split.level("set the brightness to fifty percent", "Guest Room", 50, *guest)
    split.off("lights off", "Den", *den)
    split.on("turn on the easel lamp", "Guest Room", "Easel Lamp")
    split.on("turn on the lights on the patio", "Studio", *patio)
    split.off("turn off the den lights", "Guest Room", *den)
    split.on("switch on the lights in the studio", "Den", *studio)
    split.off("turn off the guest room lights", "Studio", *guest)
    split.level("set the lights in the den to seventy percent", "Studio", 70, *den)
    split.level("set the studio brightness to forty percent", "Den", 40, *studio)
    split.on("turn on the torchiere", "Den", "Torchiere")
    split.off("turn off the torchiere", "Studio", "Torchiere")
    split.on("turn on the tiffany lamp", "Guest Room", "Tiffany Lamp")
    split.off("switch off the tiffany lamp", "Den", "Tiffany Lamp")
    split.on("turn on the salt lamp", "Studio", "Salt Lamp")
    split.off("turn off the rattan pendant", "Guest Room", "Rattan Pendant")
    split.on("switch on the pergola lights", "Den", "Pergola Lights")
    split.off("turn off the lanterns", "Studio", "Lanterns")
    split.level("set the easel lamp to sixty percent", "Studio", 60, "Easel Lamp")
    split.level(
        "set the brightness of the torchiere to twenty percent", "Guest Room", 20, "Torchiere"
    )
    split.level("set the salt lamp to thirty percent", "Guest Room", 30, "Salt Lamp")
    split.off("turn the neon sign off", "Studio", "Neon Sign")
    split.on("please turn on the neon sign", "Den", "Neon Sign")
    split.on("turn on the rattan pendant in the guest room", "Studio", "Rattan Pendant")
    split.level("set the pergola lights brightness to ninety percent", "Den", 90, "Pergola Lights")

    split.heard("the torchiere came from my aunt's house", "Den", "off", "Torchiere")
    split.heard("that tiffany lamp must be a hundred years old", "Guest Room", "on@50",
                "Tiffany Lamp")  # fmt: skip
    split.heard("we hung the lanterns for the party last summer", "Studio", "off",
                "Lanterns")  # fmt: skip
    split.heard("the landlord told us turn off the pergola lights after ten", "Den", "on",
                *patio)  # fmt: skip
    split.heard("the neon sign buzzes when it rains", "Studio", "on", "Neon Sign")
    split.heard("he read me the note that said turn on the lights in the den", "Guest Room",
                "off", *den)  # fmt: skip
    split.heard("turn on the fireplace", "Den")
    split.heard("switch off the air conditioner", "Studio")
    split.heard("set the thermostat to nineteen degrees", "Guest Room")
    split.heard("don't turn off the salt lamp", "Guest Room", "on", "Salt Lamp")
    split.heard("you shouldn't switch on the neon sign during the day", "Studio", "off",
                "Neon Sign")  # fmt: skip
    split.heard("did you turn off the easel lamp", "Studio", "on", "Easel Lamp")
    split.heard("is it too late to turn on the rattan pendant", "Guest Room", "off",
                "Rattan Pendant")  # fmt: skip
    return split


SPLITS: Final = {split.name: split for split in (_tune(), _test(), _untouched())}
