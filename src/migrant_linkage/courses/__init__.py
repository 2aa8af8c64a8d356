"""The course crosswalk (issue 18): map a state's course titles to a reference catalogue."""
