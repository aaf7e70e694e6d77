"""Content items: the trainings, courses and other learning content offer events give access to."""
