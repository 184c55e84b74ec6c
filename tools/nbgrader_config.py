# nbgrader's settings for the course (tools/course_folder.py copies this file into every course folder it makes).
# One nbgrader assignment per notebook: source/NN_name/NN_name.ipynb, released as release/NN_name/NN_name.ipynb.
c = get_config()  # noqa: F821 - nbgrader's config loader defines get_config

c.CourseDirectory.course_id = "pytorch-course"

# What a student finds in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# A check cell a student deleted is put back (and then fails, since its answer is gone or changed);
# an edited one is restored from the source by its checksum (nbgrader always does that for locked cells).
c.OverwriteCells.add_missing_cells = True

# Seconds one cell may run while grading before it is interrupted and scored 0 (`python -m tools.grading` sets it
# from --timeout; tools/grader.py puts a wall-clock limit around each notebook as well).
c.Execute.timeout = 300
c.Execute.interrupt_on_timeout = True

# Outputs kept in a graded notebook and its feedback: long enough to show a traceback, short enough for a page.
c.LimitOutput.max_lines = 200
