"""Users: the learners and staff who enroll in offer events."""
