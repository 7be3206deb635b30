"""Server-side push rules (GH006 protected branches, GH003 force-push bans, the workflows
permission) and the ``proc-receive`` hook that asks the simulator to apply them.

``policy`` decides, ``callback`` is the internal endpoint the hook calls, and
``proc_receive`` is the hook program itself (standard library only, run by git).
"""
