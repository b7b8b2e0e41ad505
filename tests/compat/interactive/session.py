"""A notebook-style script: the magnus API outside any pipeline."""

from magnus import (
    end_interactive_session,
    get_object,
    get_parameter,
    get_run_id,
    put_object,
    set_parameter,
    start_interactive_session,
    track_this,
)

start_interactive_session(run_id="interactive-run", parameters_file="parameters.yaml")
assert get_run_id() == "interactive-run"
x = get_parameter("x")
set_parameter(y=x * 2)
track_this(exploration=1.5)
put_object([1, 2, 3], name="numbers")
assert get_object("numbers") == [1, 2, 3]
end_interactive_session()
print("session done")
