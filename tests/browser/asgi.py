"""The ASGI application the browser tests' daphne serves: the example project's, with its
static files (the admin's styles) served as ``runserver`` would, whatever DEBUG says; as
Channels' own ``ChannelsLiveServerTestCase`` does."""

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

from project.asgi import application as project_application

application = ASGIStaticFilesHandler(project_application)
