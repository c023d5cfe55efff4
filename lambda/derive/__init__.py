"""The derive function's entry point folder, installed with the construct library as
``kmsecdh_cdk.derive_entry`` so that bundling finds ``handler.py`` and ``requirements.txt`` in a wheel with
no repository around it. Importing this package imports nothing: only the Lambda runtime loads the handler.
"""
